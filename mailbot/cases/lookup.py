"""What the handlers may know of existing cases, answered from the store.

Handlers are pure functions over a message and a ``CaseLookup`` (their protocol, in
``mailbot.intake.handlers.base``); this is the implementation the pipeline passes in.
A case is summarised by what matching a follow-up needs, never by its referral.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailbot.cases.referral import child_key, get_path, same_referral, subject_key
from mailbot.cases.referral import same_child as same_child_of
from mailbot.cases.resend import resend_digest
from mailbot.cases.status import CaseStatus
from mailbot.cases.store import load_referral
from mailbot.forms.model import Referral
from mailbot.store.models import Case, InboundMessage, Outbox, ReferralVersion
from mailbot.store.vault import Vault

#: The sender's recent open cases compared with a new form (a busy DSL's fortnight).
MAX_RESEND_CASES = 30


@dataclass(frozen=True)
class CaseSummary:
    """What a handler may know of an existing case: enough to match a follow-up."""

    id: str
    ref: str
    status: CaseStatus
    senders: frozenset[str]  # the first sender and the referral's referrer.email
    #: The SPRG meeting the case is on (a decision must not go out before it).
    meeting_date: date | None = None


def summary(session: Session, vault: Vault, case: Case) -> CaseSummary:
    senders = {vault.open_text(session, case, "sender_enc")}
    referral, _row = load_referral(session, vault, case)
    email = get_path(referral, "referrer.email")
    if isinstance(email, str) and email.strip():
        senders.add(email.strip().lower())
    return CaseSummary(case.id, case.ref, CaseStatus(case.status), frozenset(senders), case.meeting_date)


class DbCaseLookup:
    """What handlers may ask about existing cases, answered from the store."""

    def __init__(self, session: Session, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    def by_ref(self, ref: str) -> CaseSummary | None:
        case = self.session.scalars(select(Case).where(Case.ref == ref)).one_or_none()
        return summary(self.session, self.vault, case) if case else None

    def by_child(self, referral: Referral) -> CaseSummary | None:
        key = child_key(referral)
        if key is None:
            return None
        case = self.session.scalars(
            select(Case)
            .where(Case.child_index == self.vault.index("child", key), Case.status != CaseStatus.CLOSED)
            .order_by(Case.created_at.desc())
            .limit(1)
        ).one_or_none()
        return summary(self.session, self.vault, case) if case else None

    def same_child(self, case: CaseSummary, referral: Referral) -> bool | None:
        """Name and date of birth compared one by one with the case's current version
        (a differing name with no date of birth on the form is still another child)."""
        row = self.session.get(Case, case.id)
        if row is None:
            return None
        current, _version = load_referral(self.session, self.vault, row)
        return same_child_of(current, referral)

    def resent(
        self, sender: str, referral: Referral, fallbacks: list[str], since: datetime, subject: str
    ) -> CaseSummary | None:
        """The open case this sender opened since ``since`` with this same referral: every
        field equal (in any version that came from a form), under the same subject once
        reply, forward and resend marks are set aside (``subject_key``). A form sent
        again under another subject ("... (PDF)") is a new case, flagged as a possible
        duplicate: the sender may mean something by it."""
        recent = (
            select(Case.id)
            .where(
                Case.sender_index == self.vault.index("sender", sender),
                Case.status.not_in((CaseStatus.CLOSED, CaseStatus.DECIDED)),
                Case.shredded_at.is_(None),
                Case.created_at >= since,
            )
            .order_by(Case.created_at.desc())
            .limit(MAX_RESEND_CASES)
        )
        digest = resend_digest(self.vault, referral, fallbacks, subject)
        query = (
            select(ReferralVersion, Case)
            .join(Case, Case.id == ReferralVersion.case_id)
            .where(ReferralVersion.case_id.in_(recent.scalar_subquery()), ReferralVersion.source == "form")
            .order_by(Case.created_at.desc())
        )
        if digest is not None:  # else fallbacks the index does not know: compare them all
            # Any version equal to this form has its digest; NULL ones predate the index.
            query = query.where(
                or_(ReferralVersion.resend_index == digest, ReferralVersion.resend_index.is_(None))
            )
        for version, case in self.session.execute(query):
            stored = self.vault.open_json(self.session, version, "referral_enc", key_id=case.key_id)
            if same_referral(stored, version.fallbacks or [], referral, fallbacks) and self._subject_of(
                version
            ) == subject_key(subject):
                return summary(self.session, self.vault, case)
        return None

    def _subject_of(self, version: ReferralVersion) -> str | None:
        row = self.session.get(InboundMessage, version.message_id) if version.message_id else None
        return (
            subject_key(self.vault.open_text(self.session, row, "subject_enc")) if row is not None else None
        )

    def by_sent_message_id(self, message_id: str) -> CaseSummary | None:
        row = self.session.scalars(select(Outbox).where(Outbox.message_id == message_id)).one_or_none()
        if row is None or not row.case_refs:
            return None
        return self.by_ref(row.case_refs[0])
