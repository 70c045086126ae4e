"""The meetings page: each SPRG meeting's cases, move/hold, the pack, the digest, outcomes.

The SPRG logic is the SPRG feature's (``mailbot.sprg``): scheduling (``move``, ``hold``,
``cases_of_meeting``), the agenda pack (``build_pack``), the pre-meeting digest
(``queue_digest``) and decisions (``decisions.record``). This module only turns form
posts into calls to them, as the signed-in user.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from mailbot.cases import store as case_store
from mailbot.cases.referral import get_path
from mailbot.clock import london
from mailbot.errors import ConfigError, NotFound, UsageError
from mailbot.forms.dates import parse_uk_date
from mailbot.sprg import decisions, scheduling
from mailbot.sprg import meeting_digest as sprg_digest
from mailbot.sprg.calendar import Calendar
from mailbot.sprg.decision_form import empty_decision, get, put
from mailbot.sprg.pack import build_pack
from mailbot.store.audit import audit, audit_many
from mailbot.store.audit_log import case_entries
from mailbot.store.models import Case, Meeting
from mailbot.web.auth import mb, on_agenda, requires

bp = Blueprint("meetings", __name__)

#: How many future meetings the page offers.
UPCOMING = 4
OUTCOME_TEXT = (
    "outcome.single_agency.agencies",
    "outcome.single_agency.grounds",
    "outcome.multi_agency.agencies",
    "outcome.multi_agency.grounds",
    "outcome.methodology",
    "outcome.other_actions",
    "sprg.chair",
)
OUTCOME_DATES = ("outcome.final_report_date", "sprg.meeting_date")
OUTCOME_YN = ("outcome.single_agency.decision", "outcome.multi_agency.decision")


def _meeting_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(404)


def upcoming_meetings() -> list[date]:
    app = mb()
    with app.db.session() as session:
        cal = scheduling.calendar_of(app.settings, session)
    today = london(app.clock.now()).date()
    return list(cal.meetings_between(today, today + timedelta(days=400)))[:UPCOMING]


@bp.route("/meetings")
@requires("team", "sprg")
def index() -> Any:
    app = mb()
    team = g.user.role == "team"
    today = london(app.clock.now()).date()
    upcoming = upcoming_meetings()
    with app.db.session() as session:
        with_cases = set(
            session.scalars(
                select(Case.meeting_date).where(
                    Case.meeting_date.is_not(None), Case.status.in_(("scheduled", "decided"))
                )
            )
        )
        days = sorted({d for d in with_cases if d is not None} | set(upcoming))
        digests = {m.meeting_date: m for m in session.scalars(select(Meeting))}
        cal = scheduling.calendar_of(app.settings, session)
        meetings = []
        for day in days:
            rows = []
            for pc in scheduling.cases_of_meeting(session, app.vault, day):
                rows.append(
                    {
                        "ref": pc.ref,
                        "status": pc.status,
                        "agency": get_path(pc.referral, "referrer.agency"),
                        "themes": pc.referral.get("themes") or [],
                        "single": get(pc.referral, "outcome.single_agency.decision"),
                        "multi": get(pc.referral, "outcome.multi_agency.decision"),
                    }
                )
            sent = digests.get(day)
            meetings.append(
                {
                    "day": day,
                    "cases": rows,
                    "past": day < today,
                    "in_calendar": cal.is_meeting(day),
                    "digest_sent": sent.digest_sent_at if sent else None,
                }
            )
        waiting = []
        if team:
            for case in session.scalars(
                select(Case).where(Case.status.in_(("ready", "held"))).order_by(Case.ready_at, Case.ref)
            ):
                waiting.append({"ref": case.ref, "status": case.status, "ready_at": case.ready_at})
    # Past meetings with nothing left on them are not shown to SPRG members.
    if not team:
        meetings = [m for m in meetings if m["cases"]]
    return render_template(
        "web/meetings.html",
        meetings=meetings,
        upcoming=upcoming,
        waiting=waiting,
        team=team,
        today=today,
        calendar=_describe(cal),
        configured=cal.configured,
        members=len(app.settings.sprg_members),
    )


def _describe(cal: Calendar) -> str:
    """The calendar in people's words and dates: the rule or the dates, then those added."""
    words = []
    if cal.ordinal is not None:
        words.append(Calendar(ordinal=cal.ordinal, weekday=cal.weekday).describe())
    words += [d.strftime("%d/%m/%Y") for d in cal.dates]
    if cal.extra:
        words.append("added by the team: " + ", ".join(d.strftime("%d/%m/%Y") for d in sorted(cal.extra)))
    return ", ".join(words)


@bp.route("/meetings/<day>/pack.docx")
@requires("team", "sprg")
def pack(day: str) -> Any:
    meeting = _meeting_day(day)
    app = mb()
    now = app.clock.now()
    with app.db.session() as session:
        cases = scheduling.cases_of_meeting(session, app.vault, meeting)
        if not cases:
            abort(404)
        data = build_pack(
            meeting, cases, chair=getattr(app.settings, "sprg_chair", None), compiled_on=london(now).date()
        )
        audit_many(
            session,
            now,
            g.user.name,
            case_entries(
                session,
                [c.ref for c in cases],
                "sprg.pack_downloaded",
                f"meeting {meeting.isoformat()}, {len(cases)} cases",
            ),
        )
    response = Response(
        data, mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="SPRG-agenda-{meeting.isoformat()}.docx"'
    return response


@bp.route("/meetings/<day>/digest", methods=["POST"])
@requires("team")
def send_digest(day: str) -> Any:
    meeting = _meeting_day(day)
    app = mb()
    with app.db.session() as session:
        cases = scheduling.cases_of_meeting(session, app.vault, meeting)
        try:
            count = sprg_digest.queue_digest(
                session,
                app.vault,
                app.settings,
                app.outbound,
                app.clock.now(),
                meeting,
                cases,
                actor=g.user.name,
            )
        except ConfigError as exc:
            session.rollback()
            flash(f"The digest was not sent: {exc.problem} ({exc.setting}).", "error")
        else:
            flash(
                f"The digest for {meeting:%d/%m/%Y} ({len(cases)} cases) is queued for "
                f"{count} SPRG member{'s' if count != 1 else ''}. It goes with the next "
                "poll.",
                "success",
            )
    return redirect(url_for("meetings.index") + f"#m-{meeting.isoformat()}")


@bp.route("/cases/<ref>/schedule", methods=["POST"])
@requires("team")
def schedule(ref: str) -> Any:
    app = mb()
    choice = request.form.get("meeting", "")
    with app.db.session() as session:
        try:
            if choice == "hold":
                case = scheduling.hold(session, app.clock.now(), ref, g.user.name)
                message = f"{case.ref} is held back from every agenda."
            else:
                try:
                    meeting = date.fromisoformat(choice)
                except ValueError as exc:
                    raise UsageError("choose a meeting") from exc
                case = scheduling.move(session, app.settings, app.clock.now(), ref, meeting, g.user.name)
                message = f"{case.ref} is on the agenda of {meeting:%d/%m/%Y}."
        except (UsageError, ConfigError, NotFound) as exc:
            session.rollback()
            flash(f"{ref} was not moved: {str(exc).replace('--meeting: ', '')}.", "error")
        else:
            flash(message, "success")
    return redirect(
        request.form.get("back") == "case" and url_for("cases.case", ref=ref) or url_for("meetings.index")
    )


def _decision_from_form(form: Any, year: int) -> dict[str, Any]:
    decision = empty_decision()
    for key in OUTCOME_YN:
        value = form.get(key, "")
        put(decision, key, value if value in ("Y", "N") else None)
    for key in OUTCOME_TEXT:
        put(decision, key, (form.get(key, "") or "").strip() or None)
    for key in OUTCOME_DATES:
        text = (form.get(key, "") or "").strip()
        result = parse_uk_date(text, year)
        if result.unreadable:
            raise UsageError(
                f"the {'final report date' if 'final' in key else 'meeting date'} "
                "is not a date: use day/month/year, for example 05/10/2026"
            )
        put(decision, key, result.value.isoformat() if result.value else None)
    if (
        get(decision, "outcome.single_agency.decision") is None
        and get(decision, "outcome.multi_agency.decision") is None
    ):
        raise UsageError("record Y or N for at least one of the two decisions")
    return decision


@bp.route("/cases/<ref>/outcome", methods=["GET", "POST"])
@requires("team")
def outcome(ref: str) -> Any:
    app = mb()
    error = None
    with app.db.session() as session:
        case = case_store.case_by_ref(session, ref)
        if not on_agenda(case) and case.status != "decided":
            flash(f"{case.ref} is not on a meeting's agenda: schedule it first.", "error")
            return redirect(url_for("cases.case", ref=case.ref))
        now = app.clock.now()
        if request.method == "POST":
            try:
                decision = _decision_from_form(request.form, london(now).year)
                decisions.record(
                    session,
                    app.vault,
                    app.outbound,
                    now,
                    case,
                    decision,
                    actor=g.user.name,
                    source="workspace",
                    force=request.form.get("force") == "yes",
                )
            except UsageError as exc:
                session.rollback()
                error = str(exc)
                decision = {}
            else:
                flash(f"The SPRG outcome for {case.ref} is recorded.", "success")
                return redirect(url_for("meetings.index") + f"#m-{case.meeting_date}")
        else:
            decision = decisions.current(session, app.vault, case) or empty_decision()
            if not get(decision, "sprg.meeting_date") and case.meeting_date:
                put(decision, "sprg.meeting_date", case.meeting_date.isoformat())
            if not get(decision, "sprg.chair"):
                put(decision, "sprg.chair", getattr(app.settings, "sprg_chair", None))
        audit(session, now, g.user.name, "case.viewed", case_id=case.id, detail="outcome form")
        values = (
            {k: request.form.get(k, "") for k in OUTCOME_TEXT + OUTCOME_DATES + OUTCOME_YN}
            if error
            else {k: _shown(get(decision, k), k) for k in OUTCOME_TEXT + OUTCOME_DATES + OUTCOME_YN}
        )
        shown_ref, meeting = case.ref, case.meeting_date
    return render_template(
        "web/outcome.html",
        ref=shown_ref,
        meeting=meeting,
        values=values,
        error=error,
        force=request.form.get("force") == "yes",
    ), (400 if error else 200)


def _shown(value: Any, key: str) -> str:
    if value and key in OUTCOME_DATES:
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return str(value)
    return "" if value is None else str(value)
