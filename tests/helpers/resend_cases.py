"""Open cases from one sender straight into the store, for the resend lookup's tests and
benchmark: each with its inbound message (the subject) and a form version."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from helpers.pack_cases import form_version
from mailbot.cases import store as case_store
from mailbot.cases.referral import apply_fallbacks
from mailbot.store.models import Case, InboundMessage
from mailbot.store.vault import Vault

SENDER = "p.testington@exampleton-primary.example.org"
SUBJECT = "Case of concern referral"


def referral(n: int) -> dict[str, Any]:
    """A fictional child's referral, distinct for each ``n``."""
    return {
        "child": {"full_name": f"Testchild Number{n:04d}", "dob": "2015-03-03", "school": "Exampleton"},
        "referrer": {"name": "P Testington", "agency": "Exampleton Primary"},
        "incident_details": f"Fictional concern number {n}.",
    }


def message(session: Session, vault: Vault, now: datetime, subject: str, n: int) -> InboundMessage:
    row = InboundMessage(
        dedupe_key=vault.index("test-dedupe", f"{n}-{now.isoformat()}-{subject}"),
        content_index=vault.index("test-content", str(n)),
        mailbox_ref=f"test/INBOX/1/{n}",
        received_at=now,
        sent_at=now,
        action="accept",
        reason="test",
        target_folder="Processed",
        moved=True,
    )
    row.key_id = vault.new_key(session)
    row.sender_enc = vault.seal_text(session, row, "sender_enc", SENDER)
    row.subject_enc = vault.seal_text(session, row, "subject_enc", subject)
    session.add(row)
    session.flush()
    return row


def open_case(
    session: Session, vault: Vault, now: datetime, form: dict[str, Any], n: int, subject: str = SUBJECT
) -> Case:
    completed, used = apply_fallbacks(copy.deepcopy(form), SENDER, now)
    msg = message(session, vault, now, subject, n)
    version = form_version(completed, "bot", fallbacks=used, message_row_id=msg.id, subject=subject)
    return case_store.open_case(session, vault, now, SENDER, version)
