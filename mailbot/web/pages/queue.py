"""The team's queue: every case, what it waits for, filtered and sorted."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from mailbot.cases import queue as case_queue
from mailbot.cases import views
from mailbot.store.models import Case
from mailbot.web.auth import mb, requires

bp = Blueprint("queue", __name__)


@bp.route("/queue")
@requires("team")
def queue() -> Any:
    status = request.args.get("status", "open")
    meeting = request.args.get("meeting", "")
    sort = request.args.get("sort", "oldest")
    if sort not in case_queue.SORTS:
        sort = "oldest"
    app = mb()
    with app.db.session() as session:
        items = case_queue.filtered(
            case_queue.annotated_queue(session, app.vault, app.settings, app.clock.now()),
            status=status, meeting=meeting, sort=sort)
        meetings = sorted({d for d in session.scalars(select(Case.meeting_date)) if d})
        held = len(views.quarantine(session, app.vault))
    return render_template("web/queue.html", items=items, status=status, meeting=meeting,
                           sort=sort, sorts=case_queue.SORTS, meetings=meetings, held=held,
                           overdue=sum(1 for i in items if i.overdue))
