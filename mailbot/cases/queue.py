"""The CSCP team's queue: every case, what it waits for, and what is overdue.

One ``QueueItem`` per case is built here and read everywhere a queue is shown: the
``cases`` command (table and JSON), the workspace's queue and export, and the morning
digest. Filtering and sorting live here too, so the CLI and the web agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.cases.clocks import CaseClock, clocks_of
from mailbot.cases.referral import get_path
from mailbot.cases.status import CaseStatus
from mailbot.clock import london
from mailbot.forms import field_label
from mailbot.settings import Settings
from mailbot.store.models import Case, CaseChase, Outbox
from mailbot.store.vault import Vault
from mailbot.workdays import working_days_waited

SHORT_LABELS = {
    "referrer.name": "referrer's name",
    "referrer.role": "referrer's role",
    "referrer.agency": "agency",
    "referrer.email": "referrer's email",
    "referral_date": "referral date",
    "child.full_name": "child's name",
    "child.dob": "child's date of birth",
    "child.address": "child's address",
    "incident_details": "incident details",
    "anticipated_learning": "anticipated learning",
}
#: From this many missing fields on, the referrer is asked for the form itself.
WHOLE_FORM = 6
SORTS = {"oldest": "Waiting longest first", "newest": "Waiting shortest first", "ref": "Reference"}


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def short_label(key: str) -> str:
    return SHORT_LABELS.get(key) or field_label(key)


def waiting_for(case: Case) -> str:
    """Who the case waits for, and for what, in a few words (labels, never values)."""
    status = CaseStatus(case.status)
    if status == CaseStatus.AWAITING_INFORMATION:
        if len(case.missing_required) >= WHOLE_FORM:
            return "referrer: the referral form"
        parts = [short_label(k) for k in case.missing_required]
        parts += [f"check {short_label(q['field'])}" for q in case.queries]
        return "referrer: " + ", ".join(parts) if parts else "referrer"
    return {
        CaseStatus.MANUAL_ENTRY: "team: read the form and enter it by hand",
        CaseStatus.READY: "team: schedule to an SPRG meeting",
        CaseStatus.SCHEDULED: "SPRG decision"
        + (f" at the meeting on {case.meeting_date:%d/%m/%Y}" if case.meeting_date else ""),
        CaseStatus.HELD: "team: held back from the agenda",
        CaseStatus.DECIDED: "final report to the SPRG",
        CaseStatus.CLOSED: "nothing (closed)",
    }[status]


@dataclass
class QueueItem:
    ref: str
    status: CaseStatus
    referrer_email: str | None
    referring_agency: str | None
    received_at: datetime
    missing_required: list[str]
    queries: list[dict[str, str]]
    themes: list[str]
    meeting_date: date | None
    waiting_for: str
    possible_duplicates: list[str]
    days_waiting: int
    #: The same wait in working days (England): what overdue flags and digests count.
    working_days_waiting: int = 0
    reply_failed: bool = False
    #: With ``due_by``: the final report's date, and "due" or "overdue".
    final_report_date: date | None = None
    final_report: str | None = None
    #: What the morning jobs add: reminded once, flagged to the team, waited too long.
    reminded: bool = False
    flagged: bool = False
    overdue: bool = False
    #: The member of the team who owns the case (a workspace sign-in name).
    owner: str | None = None
    serious_incident: bool = False
    clocks: list[CaseClock] = field(default_factory=list)

    @property
    def urgent_clocks(self) -> list[CaseClock]:
        """Serious-incident clocks overdue or due by the next working day."""
        return [c for c in self.clocks if c.urgent]

    def as_json(self) -> dict[str, Any]:
        """INTERFACE.md's ``cases --json`` object (keys kept as they have always been)."""
        out: dict[str, Any] = {
            "ref": self.ref,
            "status": str(self.status),
            "referrer_email": self.referrer_email,
            "referring_agency": self.referring_agency,
            "received_at": iso(self.received_at),
            "missing_required": list(self.missing_required),
            "queries": list(self.queries),
            "themes": list(self.themes),
            "meeting_date": self.meeting_date.isoformat() if self.meeting_date else None,
            "waiting_for": self.waiting_for,
            "possible_duplicates": list(self.possible_duplicates),
            "days_waiting": self.days_waiting,
            "working_days_waiting": self.working_days_waiting,
            "reply_failed": self.reply_failed,
            "serious_incident": self.serious_incident,
            "clocks": [c.as_json() for c in self.clocks],
        }
        if self.final_report_date is not None:
            out["final_report_date"] = self.final_report_date.isoformat()
            out["final_report"] = self.final_report
        return out


def queue(
    session: Session, vault: Vault, now: datetime, status: str | None = None, due_by: date | None = None
) -> list[QueueItem]:
    """The queue; with ``due_by``, only decided cases whose final report is due by then."""
    stmt = select(Case).where(Case.shredded_at.is_(None)).order_by(Case.created_at, Case.ref)
    if status:
        stmt = stmt.where(Case.status == status)
    due: dict[str, date] = {}
    if due_by is not None:
        from mailbot.sprg.final_reports import due_cases

        due = due_cases(session, due_by)
        stmt = stmt.where(Case.id.in_(list(due)))
    failed_refs = {
        ref
        for refs in session.scalars(select(Outbox.case_refs).where(Outbox.state == "failed"))
        for ref in refs or []
    }
    today = london(now).date()
    items = []
    for case in session.scalars(stmt):
        referral, _row = case_store.load_referral(session, vault, case)
        item = QueueItem(
            ref=case.ref,
            status=CaseStatus(case.status),
            referrer_email=get_path(referral, "referrer.email"),
            referring_agency=get_path(referral, "referrer.agency"),
            received_at=case.created_at,
            missing_required=list(case.missing_required),
            queries=list(case.queries),
            themes=list(referral.get("themes") or []),
            meeting_date=case.meeting_date,
            waiting_for=waiting_for(case),
            possible_duplicates=case_store.possible_duplicates(session, case),
            days_waiting=(today - london(case.updated_at).date()).days,
            working_days_waiting=working_days_waited(case.updated_at, now),
            reply_failed=case.ref in failed_refs,
            serious_incident=case.serious_incident,
            clocks=clocks_of(case, today),
            owner=case.owner,
        )
        if item.reply_failed:  # the referrer never heard from us: a person must act
            item.waiting_for = "team: a reply could not be delivered; " + item.waiting_for
        if case.id in due:
            late = due[case.id] < today
            item.final_report_date = due[case.id]
            item.final_report = "overdue" if late else "due"
            item.waiting_for = f"final report to the SPRG by {due[case.id]:%d/%m/%Y}" + (
                " (overdue)" if late else ""
            )
        items.append(item)
    if due_by is not None:
        items.sort(key=lambda i: (i.final_report_date or date.max, i.ref))
    else:  # overdue and due-tomorrow clocks lead the queue
        items.sort(key=lambda i: not i.urgent_clocks)
    return items


def flagged_refs(session: Session) -> set[str]:
    """Cases whose current wait was reminded and then flagged to the team."""
    rows = session.execute(
        select(Case.ref)
        .join(CaseChase, (CaseChase.case_id == Case.id) & (CaseChase.version == Case.current_version))
        .where(Case.status == CaseStatus.AWAITING_INFORMATION, CaseChase.flagged_at.is_not(None))
    )
    return {ref for (ref,) in rows}


def reminded_refs(session: Session) -> set[str]:
    rows = session.execute(
        select(Case.ref)
        .join(CaseChase, (CaseChase.case_id == Case.id) & (CaseChase.version == Case.current_version))
        .where(Case.status == CaseStatus.AWAITING_INFORMATION)
    )
    return {ref for (ref,) in rows}


def is_overdue(item: QueueItem, settings: Settings, today: date) -> bool:
    """Whether a queue item has waited too long for whoever it waits for (working days)."""
    if item.status == CaseStatus.AWAITING_INFORMATION:
        return item.flagged or item.working_days_waiting >= 2 * settings.chaser_days
    if item.status in (CaseStatus.MANUAL_ENTRY, CaseStatus.READY, CaseStatus.HELD):
        return item.working_days_waiting >= settings.overdue_days
    if item.status == CaseStatus.SCHEDULED and item.meeting_date:
        return item.meeting_date < today
    return False


def annotated_queue(
    session: Session, vault: Vault, settings: Settings, now: datetime, status: str | None = None
) -> list[QueueItem]:
    """``queue`` plus what the workspace and digest add: reminded, flagged, overdue."""
    items = queue(session, vault, now, status)
    flagged, reminded = flagged_refs(session), reminded_refs(session)
    today = london(now).date()
    for item in items:
        item.reminded = item.ref in reminded
        item.flagged = item.ref in flagged
        item.overdue = is_overdue(item, settings, today)
    return items


def filtered(
    items: list[QueueItem], *, status: str = "", meeting: str = "", sort: str = "oldest"
) -> list[QueueItem]:
    """The workspace's filters: ``open`` (every active status) or one status; a meeting
    date or ``none``; and a sort (``SORTS``)."""
    if status == "open":
        items = [i for i in items if i.status.active]
    elif status:
        items = [i for i in items if i.status == status]
    if meeting == "none":
        items = [i for i in items if not i.meeting_date]
    elif meeting:
        items = [i for i in items if i.meeting_date and i.meeting_date.isoformat() == meeting]
    if sort == "ref":
        items = sorted(items, key=lambda i: i.ref)
    else:
        # Longest first: most days, then received earliest (a tie goes to the older case);
        # shortest first is exactly the reverse.
        items = sorted(items, key=lambda i: (-i.days_waiting, i.received_at, i.ref), reverse=sort == "newest")
    return sorted(items, key=lambda i: not i.urgent_clocks)  # urgent clocks lead
