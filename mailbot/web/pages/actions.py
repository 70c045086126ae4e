"""Action plans in the workspace: the list of every action (overdue, by agency), and on a
case's page adding actions, recording them done or carrying them forward.

The work is ``mailbot.sprg.actions``; this module turns form posts into calls to it, as
the signed-in team member.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from mailbot.cases import store as case_store
from mailbot.clock import london
from mailbot.errors import NotFound, UsageError
from mailbot.forms.dates import parse_uk_date
from mailbot.sprg import actions
from mailbot.store.audit import audit
from mailbot.web.auth import mb, requires

bp = Blueprint("actions", __name__)


def _day(text: str, today: date) -> date:
    value = parse_uk_date(text, today.year).value
    if value is None:
        raise UsageError("enter a date, for example 05/01/2027")
    return value


@bp.route("/actions")
@requires("team")
def index() -> Any:
    app = mb()
    now = app.clock.now()
    today = london(now).date()
    overdue = request.args.get("overdue") == "yes"
    agency = request.args.get("agency", "").strip()
    with app.db.session() as session:
        everything = actions.listed(session, app.vault, today)
        items = actions.listed(session, app.vault, today, overdue=overdue, agency=agency or None)
        audit(session, now, g.user.name, "action.listed", detail=f"{len(items)} actions")
    agencies = sorted({i.agency for i in everything}, key=str.casefold)
    return render_template("web/actions.html", items=items, agencies=agencies, overdue=overdue, agency=agency)


@bp.route("/cases/<ref>/actions", methods=["POST"])
@requires("team")
def add(ref: str) -> Any:
    app = mb()
    now = app.clock.now()
    form = request.form
    with app.db.session() as session:
        try:
            case = case_store.case_by_ref(session, ref)
            actions.add(
                session,
                app.vault,
                now,
                case,
                text=form.get("text", ""),
                agency=form.get("agency", ""),
                owner=form.get("owner", ""),
                email=form.get("email", "").strip() or None,
                due=_day(form.get("due", ""), london(now).date()),
                actor=g.user.name,
            )
        except (UsageError, NotFound) as exc:
            session.rollback()
            flash(f"The action was not added: {exc}.", "error")
        else:
            flash("Action added.", "success")
    return redirect(url_for("cases.case", ref=ref.upper()) + "#actions-title")


@bp.route("/actions/<action_id>/<what>", methods=["POST"])
@requires("team")
def settle(action_id: str, what: str) -> Any:
    app = mb()
    now = app.clock.now()
    today = london(now).date()
    with app.db.session() as session:
        row = actions.find(session, action_id)
        ref = _ref_of(session, row.case_id)
        try:
            if what == "done":
                actions.complete(
                    session,
                    app.vault,
                    now,
                    row,
                    evidence=request.form.get("evidence", ""),
                    on=today,
                    actor=g.user.name,
                )
            elif what == "carry":
                actions.carry_forward(
                    session, app.vault, now, row, why=request.form.get("why", ""), on=today, actor=g.user.name
                )
            else:
                raise UsageError("unknown step")
        except UsageError as exc:
            session.rollback()
            flash(f"The action was not changed: {exc}.", "error")
        else:
            flash("Action recorded as done." if what == "done" else "Action carried forward.", "success")
    return redirect(url_for("cases.case", ref=ref) + "#actions-title")


def _ref_of(session: Any, case_id: str) -> str:
    from mailbot.store.models import Case

    case = session.get(Case, case_id)
    assert case is not None
    return str(case.ref)
