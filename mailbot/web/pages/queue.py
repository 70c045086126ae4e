"""The team's queue: every case, what it waits for, filtered and sorted."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, render_template, request
from sqlalchemy import select

from mailbot.cases import queue as case_queue
from mailbot.cases import views
from mailbot.cases.search import SearchIndex
from mailbot.store.audit import audit
from mailbot.store.models import Case
from mailbot.web.auth import mb, requires

bp = Blueprint("queue", __name__)


@bp.route("/queue")
@requires("team")
def queue() -> Any:
    query = request.args.get("q", "").strip()[:200]
    # A search looks at every case, closed ones too, unless a status is chosen.
    status = request.args.get("status", "" if query else "open")
    meeting = request.args.get("meeting", "")
    sort = request.args.get("sort", "oldest")
    if sort not in case_queue.SORTS:
        sort = "oldest"
    app = mb()
    with app.db.session() as session:
        items = case_queue.filtered(
            case_queue.annotated_queue(session, app.vault, app.settings, app.clock.now()),
            status=status,
            meeting=meeting,
            sort=sort,
        )
        if query:
            found = set(search_index().search(session, app.vault, query))
            items = [i for i in items if i.ref in found]
            audit(session, app.clock.now(), g.user.name, "cases.searched", detail=f"{len(items)} found")
        meetings = sorted({d for d in session.scalars(select(Case.meeting_date)) if d})
        held = len(views.quarantine(session, app.vault))
    return render_template(
        "web/queue.html",
        items=items,
        status=status,
        meeting=meeting,
        q=query,
        sort=sort,
        sorts=case_queue.SORTS,
        meetings=meetings,
        held=held,
        overdue=sum(1 for i in items if i.overdue),
    )


def search_index() -> SearchIndex:
    """The workspace's one search cache (made with the app, kept for its life)."""
    index: SearchIndex = current_app.extensions["mailbot_search"]
    return index
