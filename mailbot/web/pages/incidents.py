"""Serious incidents in the workspace: flag or clear a case, record the clocks' dates,
add an extraordinary SPRG meeting.

The work is ``mailbot.cases.serious`` and ``mailbot.sprg.extraordinary``; this module
turns form posts into calls to them, as the signed-in team member.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, g, redirect, request, url_for

from mailbot.cases import serious
from mailbot.cases import store as case_store
from mailbot.clock import london
from mailbot.errors import ConfigError, NotFound, UsageError
from mailbot.forms.dates import parse_uk_date
from mailbot.sprg import scheduling
from mailbot.sprg.extraordinary import add_meeting
from mailbot.web.auth import mb, requires

bp = Blueprint("incidents", __name__)


def _day(text: str, today: date, *, optional: bool = False) -> date | None:
    """A date from a form field (the browser's YYYY-MM-DD, or DD/MM/YYYY typed)."""
    if optional and not text.strip():
        return None
    value = parse_uk_date(text, today.year).value
    if value is None:
        raise UsageError("enter a date, for example 23/12/2026")
    return value


@bp.route("/cases/<ref>/serious", methods=["POST"])
@requires("team")
def flag(ref: str) -> Any:
    app = mb()
    now = app.clock.now()
    on = request.form.get("state") == "on"
    with app.db.session() as session:
        try:
            case = case_store.case_by_ref(session, ref)
            aware = _day(request.form.get("aware", ""), london(now).date(), optional=True)
            serious.set_flag(
                session,
                app.vault,
                app.outbound,
                now,
                case,
                on,
                actor=g.user.name,
                why=request.form.get("why", ""),
                team_address=app.settings.team_address,
                aware=aware,
            )
            if on and aware:
                serious.record_date(session, now, case, "aware", aware, actor=g.user.name)
            moved = scheduling.offer_serious(session, app.settings, now, case, g.user.name)
        except (UsageError, NotFound) as exc:
            session.rollback()
            flash(f"{ref} was not changed: {exc}.", "error")
        else:
            flash(
                f"{case.ref} is flagged as a serious incident; the team is alerted by e-mail."
                if on
                else f"{case.ref} is no longer flagged as a serious incident.",
                "success",
            )
            if moved:
                flash(f"{case.ref} is offered for the SPRG meeting on {moved:%d/%m/%Y}.", "success")
    return redirect(url_for("cases.case", ref=ref.upper()) + "#serious-title")


@bp.route("/cases/<ref>/clock", methods=["POST"])
@requires("team")
def clock(ref: str) -> Any:
    app = mb()
    now = app.clock.now()
    what = request.form.get("what", "")
    with app.db.session() as session:
        try:
            case = case_store.case_by_ref(session, ref)
            clear = request.form.get("clear") == "yes"
            day = None if clear else _day(request.form.get("date", ""), london(now).date())
            serious.record_date(session, now, case, what, day, actor=g.user.name)
        except (UsageError, NotFound) as exc:
            session.rollback()
            flash(f"The date was not recorded: {exc}.", "error")
        else:
            flash("Date cleared." if day is None else f"Date recorded: {day:%d/%m/%Y}.", "success")
    return redirect(url_for("cases.case", ref=ref.upper()) + "#serious-title")


@bp.route("/meetings/extraordinary", methods=["POST"])
@requires("team")
def extraordinary() -> Any:
    app = mb()
    now = app.clock.now()
    ref = request.form.get("case", "").strip().upper() or None
    with app.db.session() as session:
        try:
            day = _day(request.form.get("date", ""), london(now).date())
            assert day is not None
            moved = add_meeting(session, app.vault, app.settings, now, day, actor=g.user.name, ref=ref)
        except (UsageError, NotFound, ConfigError) as exc:
            session.rollback()
            flash(f"The meeting was not added: {exc}.", "error")
        else:
            flash(
                f"Extraordinary SPRG meeting added on {day:%d/%m/%Y}"
                + (f"; {', '.join(moved)} is on its agenda." if moved else "."),
                "success",
            )
    if ref and request.form.get("back") == "case":
        return redirect(url_for("cases.case", ref=ref) + "#serious-title")
    return redirect(url_for("meetings.index"))
