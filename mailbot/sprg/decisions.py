"""Recording an SPRG decision: by command or from the team's emailed form.

Both ways store the same thing: an encrypted ``Decision`` row (the form's outcome
section), a new referral version with that section filled in (so ``show`` reads like the
form), the case ``decided``, an audit entry, and a short notice to the referrer that
names the reference and nothing else about the case.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.cases.status import CaseStatus
from mailbot.clock import london, uk_date
from mailbot.errors import UsageError
from mailbot.forms.model import Referral
from mailbot.sprg.decision_form import empty_decision, get, meeting_not_yet_held, yes_no
from mailbot.store.audit import audit
from mailbot.store.models import Case, Decision
from mailbot.store.vault import Vault

if TYPE_CHECKING:  # the mail templates (jinja2) load only to tell a referrer (start-up time)
    from mailbot.outbound.mail import Outbound


class MeetingNotHeld(UsageError):
    """A first decision for a meeting still to come (exit 2 without ``--force``)."""


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def latest(session: Session, case_id: str) -> Decision | None:
    return session.scalars(
        select(Decision).where(Decision.case_id == case_id).order_by(Decision.seq.desc()).limit(1)
    ).one_or_none()


def current(session: Session, vault: Vault, case: Case) -> dict[str, Any] | None:
    row = latest(session, case.id)
    return vault.open_json(session, row, "outcome_enc", key_id=case.key_id) if row else None


def with_recorded_decision(session: Session, vault: Vault, case: Case, referral: Referral) -> Referral:
    """The referral as people see it: its outcome section and SPRG box are the recorded
    decision, or blank when none is recorded.

    A referrer may fill in the form's outcome section (or send an old form back); that
    copy is the referrer's words, never the SPRG's decision, so it is never shown as one.
    """
    return shown_with(referral, current(session, vault, case))


def shown_with(referral: Referral, decision: dict[str, Any] | None) -> Referral:
    """``referral`` with its outcome section and SPRG box replaced by ``decision`` (the
    recorded one, already opened), or blank when there is none."""
    decision = decision or empty_decision()
    shown = dict(referral)
    shown["outcome"] = copy.deepcopy(decision["outcome"])
    shown["sprg"] = copy.deepcopy(decision["sprg"])
    return shown


def record(
    session: Session,
    vault: Vault,
    outbound: Outbound,
    now: datetime,
    case: Case,
    decision: dict[str, Any],
    *,
    actor: str,
    source: str,
    message_row_id: str | None = None,
    force: bool = False,
) -> Decision:
    """Record (or amend) the decision. The first one tells the referrer, so it is refused
    while its meeting is still to come, unless ``force`` (a person means it)."""
    if case.status == CaseStatus.CLOSED:
        raise UsageError(f"{case.ref} is closed: reopen it before recording a decision")
    first = case.status != CaseStatus.DECIDED
    day = meeting_not_yet_held(decision, case.meeting_date, london(now).date())
    if first and day is not None and not force:
        raise MeetingNotHeld(
            f"{case.ref}: the SPRG meeting of {uk_date(day)} has not happened yet, so the "
            "referrer would be told of a decision before it is made; record it after the "
            "meeting, or say that you mean to record it now (--force on the command line, "
            "the tick box in the workspace)"
        )
    previous = latest(session, case.id)
    row = Decision(
        case_id=case.id,
        seq=previous.seq + 1 if previous else 1,
        key_id=case.key_id,
        source=source,
        message_id=message_row_id,
        recorded_at=now,
        recorded_by=actor,
        meeting_date=_day(get(decision, "sprg.meeting_date")),
        final_report_date=_day(get(decision, "outcome.final_report_date")),
    )
    if previous is not None and previous.final_report_date == row.final_report_date:
        row.reminder_sent_at = previous.reminder_sent_at  # the same date is reminded once
    row.outcome_enc = vault.seal_json(session, row, "outcome_enc", decision, key_id=case.key_id)
    session.add(row)
    _add_version(session, vault, case, now, decision, actor, source, message_row_id)
    case.status = CaseStatus.DECIDED
    case.held = False
    case.decided_at = case.updated_at = now
    single = yes_no(get(decision, "outcome.single_agency.decision"))
    multi = yes_no(get(decision, "outcome.multi_agency.decision"))
    audit(
        session,
        now,
        actor,
        "decision.recorded" if first else "decision.amended",
        case_id=case.id,
        message_id=message_row_id,
        detail=f"by {source}; single-agency {single}, multi-agency {multi}; "
        f"final report {row.final_report_date or '-'}",
    )
    if first:
        _notify_referrer(session, vault, outbound, now, case, decision)
    session.flush()
    return row


def _add_version(
    session: Session,
    vault: Vault,
    case: Case,
    now: datetime,
    decision: dict[str, Any],
    actor: str,
    source: str,
    message_row_id: str | None,
) -> None:
    referral, version = case_store.load_referral(session, vault, case)
    updated = copy.deepcopy(referral)
    updated["outcome"] = copy.deepcopy(decision["outcome"])
    updated["sprg"] = copy.deepcopy(decision["sprg"])
    provenance = vault.open_json(session, version, "provenance_enc", key_id=case.key_id)
    case_store.add_version(
        session,
        vault,
        case,
        now,
        case_store.VersionInput(
            referral=updated,
            provenance=provenance,
            source="form" if source == "email" else "manual",
            fallbacks=list(version.fallbacks),
            missing=list(case.missing_required),
            queries=list(case.queries),
            created_by=actor,
            message_row_id=message_row_id,
            note=None,
        ),
    )


def referrer_address(session: Session, vault: Vault, case: Case) -> str:
    """Where the notice goes: the address the referral came from, as every reply does.

    Not the form's ``referrer.email``: a typed address could send it anywhere.
    """
    return vault.open_text(session, case, "sender_enc")


def _notify_referrer(
    session: Session, vault: Vault, outbound: Outbound, now: datetime, case: Case, decision: dict[str, Any]
) -> None:
    from mailbot.outbound.mail import OutboundMail, last_reply_thread

    recipient = referrer_address(session, vault, case)
    if not recipient:
        return
    outbound.queue(
        session,
        now,
        OutboundMail(
            kind="decision",
            template="sprg_decision_notice",
            subject="SPRG decision",
            recipient=recipient,
            refs=[case.ref],
            key_id=case.key_id,
            follows=last_reply_thread(session, vault, case.ref, recipient),
            context={
                "ref": case.ref,
                "meeting": uk_date(get(decision, "sprg.meeting_date")),
                "single": yes_no(get(decision, "outcome.single_agency.decision")),
                "multi": yes_no(get(decision, "outcome.multi_agency.decision")),
            },
        ),
    )
