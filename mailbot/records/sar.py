"""Subject access: every case and message about one person, found by decryption.

The blind index on a case (``child_index``) covers only the child, and only when the
form gave a full name and date of birth; a household member, a misspelt surname or a
held message would be missed. So every live case's every version is decrypted and
searched in memory (a few milliseconds a case), and so is the text of every stored
message that fed no case. Names are compared as the duplicate check compares them
(accents, case and word order ignored); a case matches on name and date of birth, and a
name match on a form without that person's date of birth is included as a possible
match, for a person to judge. Nothing about the search is logged but counts.
"""

from __future__ import annotations

import email
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from mailbot.cases.referral import get_path
from mailbot.store.models import ActionItem, Case, Decision, InboundMessage, MessageCase, ReferralVersion
from mailbot.store.sealed_blob import open_pieces
from mailbot.store.vault import Vault

MAX_TEXT = 20_000  # of one message's text in the document


def normal_name(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(sorted(re.findall(r"[a-z]+", folded)))


def add_month(day: date) -> date:
    """One calendar month on (UK GDPR Art. 12(3)); no such day: the month's last day."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass
class Subject:
    name: str
    dob: date

    def matches(self, name: Any, dob: Any) -> str | None:
        """``match``, ``possible`` (the name, but no date of birth given) or None."""
        if not isinstance(name, str) or normal_name(name) != normal_name(self.name):
            return None
        if not dob:
            return "possible"
        return "match" if str(dob) == self.dob.isoformat() else None


@dataclass
class VersionFound:
    version: int
    source: str
    created_at: datetime
    created_by: str
    referral: dict[str, Any]
    #: Which person on the form is the subject: ``child`` or ``household.N``.
    roles: list[str]


@dataclass
class MessageFound:
    received_at: datetime
    action: str
    sender: str
    subject: str
    text: str
    attachments: list[str]


@dataclass
class CaseFound:
    ref: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    certainty: str  # match | possible
    versions: list[VersionFound] = field(default_factory=list)
    messages: list[MessageFound] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    #: The SPRG's action plan: text, agency, owner, dates (``sprg_action``).
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SarResult:
    cases: list[CaseFound] = field(default_factory=list)
    other_messages: list[MessageFound] = field(default_factory=list)
    searched_cases: int = 0
    searched_messages: int = 0


def roles_of(subject: Subject, referral: dict[str, Any]) -> tuple[list[str], str | None]:
    roles: list[str] = []
    best: str | None = None
    people = [("child", get_path(referral, "child.full_name"), get_path(referral, "child.dob"))]
    for n, member in enumerate(referral.get("household") or []):
        if isinstance(member, dict):
            people.append((f"household.{n}", member.get("name"), member.get("dob")))
    for role, name, dob in people:
        found = subject.matches(name, dob)
        if found:
            roles.append(role)
            best = "match" if "match" in (best, found) else found
    return roles, best


def search(session: Session, vault: Vault, subject: Subject) -> SarResult:
    result = SarResult()
    for case in session.scalars(select(Case).where(Case.shredded_at.is_(None)).order_by(Case.ref)):
        result.searched_cases += 1
        found = _search_case(session, vault, case, subject)
        if found is not None:
            result.cases.append(found)
    caseless = ~exists().where(MessageCase.message_id == InboundMessage.id)
    for row in session.scalars(select(InboundMessage).where(caseless).order_by(InboundMessage.received_at)):
        result.searched_messages += 1
        message = message_found(session, vault, row)
        if normal_name(subject.name) and _names_in(subject.name, message.text + " " + message.subject):
            result.other_messages.append(message)
    return result


def _search_case(session: Session, vault: Vault, case: Case, subject: Subject) -> CaseFound | None:
    versions, certainty = [], None
    for row in session.scalars(
        select(ReferralVersion).where(ReferralVersion.case_id == case.id).order_by(ReferralVersion.version)
    ):
        referral = vault.open_json(session, row, "referral_enc", key_id=case.key_id)
        roles, found = roles_of(subject, referral)
        if found == "match" or (found and certainty is None):
            certainty = found
        versions.append(
            VersionFound(row.version, row.source, row.created_at, row.created_by, referral, roles)
        )
    if certainty is None:
        return None
    found_case = CaseFound(case.ref, case.status, case.created_at, case.closed_at, certainty, versions)
    ids = session.scalars(select(MessageCase.message_id).where(MessageCase.case_id == case.id))
    rows = [session.get(InboundMessage, i) for i in ids]
    for message in sorted((r for r in rows if r is not None), key=lambda r: r.received_at):
        found_case.messages.append(message_found(session, vault, message))
    for decision in session.scalars(
        select(Decision).where(Decision.case_id == case.id).order_by(Decision.seq)
    ):
        found_case.decisions.append(vault.open_json(session, decision, "outcome_enc", key_id=case.key_id))
    for action in session.scalars(
        select(ActionItem).where(ActionItem.case_id == case.id).order_by(ActionItem.created_at)
    ):
        found_case.actions.append(
            {
                "action": vault.open_text(session, action, "text_enc"),
                "agency": action.agency,
                "owner": vault.open_text(session, action, "owner_enc"),
                "due": action.due_on.isoformat(),
                "done": action.done_on.isoformat() if action.done_on else None,
            }
        )
    return found_case


def _names_in(name: str, text: str) -> bool:
    """Every word of the name appears in the text (any order, any case)."""
    words = set(re.findall(r"[a-z]+", normal_name(text)))
    return set(normal_name(name).split()) <= words


def message_found(session: Session, vault: Vault, row: InboundMessage) -> MessageFound:
    raw = open_pieces(session, vault, row, "raw_enc")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    texts, files = [], []
    assert isinstance(parsed, EmailMessage)
    for part in parsed.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            files.append(filename)
        elif part.get_content_type() == "text/plain":
            try:
                texts.append(str(part.get_content()))
            except (LookupError, ValueError):  # an unknown charset: the text is skipped
                continue
    return MessageFound(
        row.received_at,
        row.action,
        vault.open_text(session, row, "sender_enc"),
        vault.open_text(session, row, "subject_enc"),
        "\n".join(texts)[:MAX_TEXT],
        files,
    )
