"""Cases and their referral versions in the store: the only code that writes them.

Each function takes the session and the vault it works in, so one message's rows (its
inbound record, cases, versions, audit and outbox) share one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailbot.cases.referral import child_key
from mailbot.cases.resend import stored_digest
from mailbot.cases.status import OPEN_TO_REFERRER, CaseStatus
from mailbot.clock import london
from mailbot.errors import NotFound
from mailbot.forms.model import Referral
from mailbot.store.models import Case, MessageCase, RefCounter, ReferralVersion
from mailbot.store.vault import Vault


@dataclass
class VersionInput:
    referral: Referral
    provenance: dict[str, str]
    source: str  # form, email, manual
    fallbacks: list[str]
    missing: list[str]
    queries: list[dict[str, str]]
    created_by: str
    message_row_id: str | None = None
    note: str | None = None
    #: The subject of the message the form came in (for the resend index), when known.
    subject: str | None = None


def next_ref(session: Session, now: datetime) -> str:
    """``COC-YYYY-NNNN``: the year on the bot's clock in London, counting up."""
    year = london(now).year
    for _ in range(5):
        number = session.execute(
            update(RefCounter)
            .where(RefCounter.year == year)
            .values(last=RefCounter.last + 1)
            .returning(RefCounter.last)
        ).scalar_one_or_none()
        if number is not None:
            return f"COC-{year}-{number:04d}"
        try:
            with session.begin_nested():
                session.execute(insert(RefCounter).values(year=year, last=0))
        except IntegrityError:
            continue  # another worker made the row first; take a number from it
    raise RuntimeError("could not allocate a case reference")


def status_for(missing: list[str], queries: list[dict[str, str]], manual: bool = False) -> CaseStatus:
    if manual:
        return CaseStatus.MANUAL_ENTRY
    return CaseStatus.AWAITING_INFORMATION if missing or queries else CaseStatus.READY


def open_case(
    session: Session, vault: Vault, now: datetime, sender: str, version: VersionInput, *, manual: bool = False
) -> Case:
    key_id = vault.new_key(session)
    # next_ref's UPDATE flushes the pending data keys (one statement for the message's and
    # this one) before the case exists: a flush orders tables with no relationship() by
    # their classes' module and name, not by foreign key, and cases.Case precedes
    # cases.DataKey.
    case = Case(
        ref=next_ref(session, now),
        status=CaseStatus.AWAITING_INFORMATION,
        key_id=key_id,
        created_at=now,
        updated_at=now,
        held=False,
        current_version=0,
        sender_index=vault.index("sender", sender),
    )
    case.sender_enc = vault.seal_text(session, case, "sender_enc", sender)  # gives it its id
    session.add(case)
    add_version(session, vault, case, now, version, manual=manual)
    # In now, with its first version's status (one INSERT, no UPDATE after it): rows added
    # later may refer to it (an attachment moved to it by a split, a message link), and
    # a flush would put cases.Attachment before cases.Case.
    session.flush()
    return case


def add_version(
    session: Session, vault: Vault, case: Case, now: datetime, version: VersionInput, *, manual: bool = False
) -> ReferralVersion:
    row = ReferralVersion(
        case_id=case.id,
        version=case.current_version + 1,
        source=version.source,
        fallbacks=version.fallbacks,
        missing_required=version.missing,
        queries=version.queries,
        message_id=version.message_row_id,
        created_at=now,
        created_by=version.created_by,
    )
    if version.source == "form":
        row.resend_index = stored_digest(vault, version)
    row.referral_enc = vault.seal_json(session, row, "referral_enc", version.referral, key_id=case.key_id)
    row.provenance_enc = vault.seal_json(
        session, row, "provenance_enc", version.provenance, key_id=case.key_id
    )
    if version.note:
        row.note_enc = vault.seal_text(session, row, "note_enc", version.note, key_id=case.key_id)
    session.add(row)
    case.current_version = row.version
    case.missing_required = list(version.missing)
    case.queries = list(version.queries)
    key = child_key(version.referral)
    case.child_index = vault.index("child", key) if key else None
    case.updated_at = now
    if case.status in OPEN_TO_REFERRER:
        new_status = status_for(version.missing, version.queries, manual)
        if new_status == CaseStatus.READY and case.status != CaseStatus.READY:
            case.ready_at = now
        case.status = new_status
    return row  # flushed with the message's other rows (no round trip of its own)


def current_version(session: Session, case: Case) -> ReferralVersion:
    row = session.scalars(
        select(ReferralVersion).where(
            ReferralVersion.case_id == case.id, ReferralVersion.version == case.current_version
        )
    ).one()
    return row


def load_referral(session: Session, vault: Vault, case: Case) -> tuple[Referral, ReferralVersion]:
    row = current_version(session, case)
    return vault.open_json(session, row, "referral_enc", key_id=case.key_id), row


def case_by_ref(session: Session, ref: str, *, tombstone_ok: bool = False) -> Case:
    """The case; a destroyed one only when the caller can work with its tombstone."""
    case = session.scalars(select(Case).where(Case.ref == ref.upper())).one_or_none()
    if case is None:
        raise NotFound(f"no case {ref}")
    if case.shredded_at is not None and not tombstone_ok:
        raise NotFound(
            f"{case.ref} was destroyed on {case.shredded_at:%d/%m/%Y} "
            f"({case.shred_reason}): only its tombstone is kept"
        )
    return case


def possible_duplicates(session: Session, case: Case) -> list[str]:
    if not case.child_index:
        return []
    return list(
        session.scalars(
            select(Case.ref)
            .where(Case.child_index == case.child_index, Case.id != case.id)
            .order_by(Case.ref)
        )
    )


def case_refs_of_message(session: Session, message_row_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Case.ref)
            .join(MessageCase, MessageCase.case_id == Case.id)
            .where(MessageCase.message_id == message_row_id)
            .order_by(Case.ref)
        )
    )
