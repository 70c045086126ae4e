"""Which case goes to which SPRG meeting: by the cut-off, or as the team says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.clock import london
from mailbot.errors import ConfigError, UsageError
from mailbot.forms.model import Referral
from mailbot.settings import Settings
from mailbot.sprg.calendar import SETTING as MEETINGS_SETTING
from mailbot.sprg.calendar import Calendar, auto_meeting, parse_meetings
from mailbot.sprg.decisions import with_recorded_decision
from mailbot.store.audit import audit
from mailbot.store.models import Case, Meeting
from mailbot.store.vault import Vault

#: A case in one of these may be moved to a meeting or held back by the team.
SCHEDULABLE = ("ready", "scheduled", "held")


@dataclass
class PackCase:
    """One case as the agenda pack and the digest see it (decrypted, in memory only)."""

    ref: str
    status: str
    referral: Referral
    #: Other cases about the same child (name and date of birth): the SPRG should know.
    duplicates: list[str] = field(default_factory=list)


def calendar_of(settings: Settings, session: Session | None = None) -> Calendar:
    """The configured calendar; with a session, the extraordinary meetings added too."""
    cal = parse_meetings(settings.sprg_meetings)
    if session is None:
        return cal
    extra = tuple(session.scalars(select(Meeting.meeting_date).where(Meeting.extraordinary.is_(True))))
    return cal.with_extra(extra) if extra else cal


def next_meeting(session: Session, settings: Settings, now: datetime) -> date | None:
    """The next meeting after today, extraordinary ones included: where a serious
    incident goes, whatever the cut-off."""
    return calendar_of(settings, session).next_meeting(london(now).date() + timedelta(days=1))


def offer_serious(session: Session, settings: Settings, now: datetime, case: Case, actor: str) -> date | None:
    """Put a serious incident that is ready (or on a later meeting) on the next meeting."""
    if not case.serious_incident or case.status not in ("ready", "scheduled") or case.held:
        return None
    meeting = next_meeting(session, settings, now)
    if meeting is None or (case.meeting_date is not None and case.meeting_date <= meeting):
        return None
    _put_on(session, case, meeting, now, actor, "(serious incident: no cut-off)")
    return meeting


def auto_schedule(
    session: Session, settings: Settings, now: datetime, actor: str = "mailbot"
) -> list[tuple[str, date]]:
    """Put every ready, unscheduled case on the first meeting its cut-off allows (a
    serious incident on the next meeting, whatever the cut-off)."""
    cal = calendar_of(settings, session)
    if not cal.configured:
        return []
    today = london(now).date()
    done: list[tuple[str, date]] = []
    stmt = (
        select(Case)
        .where(Case.status == "ready", Case.meeting_date.is_(None), Case.held.is_(False))
        .order_by(Case.ready_at, Case.ref)
    )
    for case in session.scalars(stmt):
        ready_on = london(case.ready_at or case.updated_at).date()
        cutoff = 0 if case.serious_incident else settings.sprg_cutoff_days
        meeting = auto_meeting(cal, ready_on, today, cutoff)
        if meeting is None:
            continue
        why = (
            "(serious incident: no cut-off)"
            if case.serious_incident
            else f"(cut-off {settings.sprg_cutoff_days} days)"
        )
        _put_on(session, case, meeting, now, actor, why)
        done.append((case.ref, meeting))
    return done


def _put_on(session: Session, case: Case, meeting: date, now: datetime, actor: str, why: str) -> None:
    """Put the case on the meeting's agenda and audit it, with the meeting it left."""
    before = case.meeting_date
    case.meeting_date = meeting
    case.held = False
    case.status = "scheduled"
    case.updated_at = now
    was = f" (was {before.isoformat()})" if before else ""
    audit(
        session,
        now,
        actor,
        "case.scheduled",
        case_id=case.id,
        detail=f"meeting {meeting.isoformat()} {why}{was}",
    )


def _schedulable(session: Session, ref: str) -> Case:
    case = case_store.case_by_ref(session, ref)  # NotFound: exit 1, as everywhere
    if case.status not in SCHEDULABLE:
        raise UsageError(
            f"{case.ref} is {case.status.replace('_', ' ')}: only a case that is "
            "ready, scheduled or held can be put on an agenda"
        )
    return case


def move(session: Session, settings: Settings, now: datetime, ref: str, meeting: date, actor: str) -> Case:
    """``schedule REF --meeting D``: the team's choice overrides the cut-off."""
    cal = calendar_of(settings, session)
    if not cal.configured:
        raise ConfigError(MEETINGS_SETTING, "no SPRG meetings are configured")
    if not cal.is_meeting(meeting):
        raise UsageError(
            f"--meeting: {meeting.isoformat()} is not an SPRG meeting date (meetings: {cal.describe()})"
        )
    if meeting < london(now).date():
        raise UsageError(f"--meeting: {meeting.isoformat()} is in the past")
    case = _schedulable(session, ref)
    _put_on(session, case, meeting, now, actor, "by hand")
    return case


def hold(session: Session, now: datetime, ref: str, actor: str) -> Case:
    """``schedule REF --hold``: off every agenda until the team moves it to a meeting."""
    case = _schedulable(session, ref)
    case.meeting_date = None
    case.held = True
    case.status = "held"
    case.updated_at = now
    audit(session, now, actor, "case.held", case_id=case.id)
    return case


def cases_of_meeting(session: Session, vault: Vault, meeting: date) -> list[PackCase]:
    """The cases on a meeting's agenda, in reference order (closed and held ones are not)."""
    stmt = (
        select(Case)
        .where(Case.meeting_date == meeting, Case.held.is_(False), Case.status.in_(("scheduled", "decided")))
        .order_by(Case.ref)
    )
    out = []
    for case in session.scalars(stmt):
        stored, _row = case_store.load_referral(session, vault, case)
        # Only a recorded decision fills the outcome table, never the referrer's copy.
        referral = with_recorded_decision(session, vault, case, stored)
        out.append(PackCase(case.ref, case.status, referral, case_store.possible_duplicates(session, case)))
    return out
