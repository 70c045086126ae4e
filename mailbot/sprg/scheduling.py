"""Which case goes to which SPRG meeting: by the cut-off, or as the team says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.clock import london
from mailbot.errors import ConfigError, UsageError
from mailbot.forms.model import Referral
from mailbot.settings import Settings
from mailbot.sprg.calendar import SETTING as MEETINGS_SETTING
from mailbot.sprg.calendar import Calendar, auto_meeting, parse_meetings
from mailbot.sprg.decisions import shown_with
from mailbot.store.audit import audit
from mailbot.store.models import Case, DataKey, Decision, Meeting, ReferralVersion
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
    """The cases on a meeting's agenda, in reference order (closed and held ones are not).

    Two queries whatever the number of cases: the cases with their current referral
    version, newest recorded decision and data key (so opening each needs no further
    query), then the other cases about the same children.
    """
    newest = (
        select(Decision.case_id, func.max(Decision.seq).label("seq")).group_by(Decision.case_id).subquery()
    )
    stmt = (
        select(Case, ReferralVersion, Decision, DataKey)
        .outerjoin(  # outer: a case without its version must fail, not drop off the agenda
            ReferralVersion,
            and_(ReferralVersion.case_id == Case.id, ReferralVersion.version == Case.current_version),
        )
        .join(DataKey, DataKey.id == Case.key_id)  # in the session: the vault needs no query
        .outerjoin(newest, newest.c.case_id == Case.id)
        .outerjoin(Decision, and_(Decision.case_id == Case.id, Decision.seq == newest.c.seq))
        .where(Case.meeting_date == meeting, Case.held.is_(False), Case.status.in_(("scheduled", "decided")))
        .order_by(Case.ref)
    )
    rows = session.execute(stmt).all()
    duplicates = _duplicates(session, [row[0] for row in rows])
    out = []
    for case, version, decision, _key in rows:
        if version is None:  # as load_referral's .one() said before the pack read in one query
            raise NoResultFound(f"case {case.ref} has no referral version {case.current_version}")
        stored = vault.open_json(session, version, "referral_enc", key_id=case.key_id)
        recorded = vault.open_json(session, decision, "outcome_enc", key_id=case.key_id) if decision else None
        # Only a recorded decision fills the outcome table, never the referrer's copy.
        out.append(PackCase(case.ref, case.status, shown_with(stored, recorded), duplicates.get(case.id, [])))
    return out


def _duplicates(session: Session, cases: list[Case]) -> dict[str, list[str]]:
    """{case id: the other cases' references with the same child index}, in one query."""
    indexes = {case.child_index for case in cases if case.child_index}
    if not indexes:
        return {}
    same: dict[str, list[tuple[str, str]]] = {}
    stmt = select(Case.child_index, Case.id, Case.ref).where(Case.child_index.in_(indexes)).order_by(Case.ref)
    for index, case_id, ref in session.execute(stmt):
        same.setdefault(index or "", []).append((case_id, ref))
    return {
        case.id: [ref for other, ref in same.get(case.child_index or "", []) if other != case.id]
        for case in cases
    }
