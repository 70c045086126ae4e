"""The team writes to the referrer from the workspace, through the outbox.

The message is a person's, not the bot's: it goes through ``Outbound.queue`` like every
mail (the case tag in the subject, a fixed Message-ID, threaded after the bot's last
reply to the same person so it joins their conversation), but it is marked
``Auto-Submitted: no``, so the referrer's own rules and replies treat it as from a
person. It is stored with the case (the outbox row, under the case's data key) with the
author's name. A reply comes back tagged and threaded to it, so it joins the case as a
follow-up (``intake.handlers.followup``).

The rule that outbound mail carries no child's personal data binds the bot's own
templates; a person may need to write more. So the child's name or date of birth in the
text is a warning the author must confirm (``personal_data_in``), never a block.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy.orm import Session

from mailbot.cases.referral import get_path
from mailbot.cases.search import fold
from mailbot.cases.store import load_referral
from mailbot.errors import UsageError
from mailbot.outbound.mail import Outbound, OutboundMail, last_reply_thread
from mailbot.store.audit import audit
from mailbot.store.models import Case, Outbox
from mailbot.store.vault import Vault

#: Characters a message may hold.
MAX_TEXT = 20_000
SUBJECT = "Message from the CSCP team"


def recipients(session: Session, vault: Vault, case: Case) -> list[str]:
    """Who may be written to: the referrer's e-mail on the form, then the first sender."""
    referral, _row = load_referral(session, vault, case)
    found: list[str] = []
    email = get_path(referral, "referrer.email")
    if isinstance(email, str) and "@" in email:
        found.append(email.strip().lower())
    sender = vault.open_text(session, case, "sender_enc").strip().lower()
    if sender and sender not in found:
        found.append(sender)
    return found


def _date_forms(day: date) -> list[str]:
    return [
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        day.isoformat(),
        f"{day.day} {day:%B %Y}".lower(),
        f"{day.day} {day:%b %Y}".lower(),
        day.strftime("%d.%m.%Y"),
        day.strftime("%d-%m-%Y"),
    ]


def personal_data_in(session: Session, vault: Vault, case: Case, text: str) -> list[str]:
    """What in ``text`` names the child: "the child's name", "the child's date of birth"."""
    referral, _row = load_referral(session, vault, case)
    folded = fold(text)
    words = set(re.findall(r"[\w'-]+", folded))
    found = []
    name = get_path(referral, "child.full_name")
    if isinstance(name, str) and name.strip():
        parts = [p for p in re.findall(r"[\w'-]+", fold(name)) if len(p) >= 3]
        if fold(name) in folded or any(p in words for p in parts):
            found.append("the child's name")
    dob = get_path(referral, "child.dob")
    if isinstance(dob, str) and dob:
        try:
            day = date.fromisoformat(dob)
        except ValueError:
            day = None
        if day is not None and any(form in folded for form in _date_forms(day)):
            found.append("the child's date of birth")
    return found


def write_to_referrer(
    session: Session,
    vault: Vault,
    outbound: Outbound,
    now: datetime,
    case: Case,
    *,
    text: str,
    recipient: str,
    author: str,
) -> Outbox:
    text = text.strip()
    if not text:
        raise UsageError("write the message first")
    if len(text) > MAX_TEXT:
        raise UsageError(f"a message can be at most {MAX_TEXT} characters")
    if recipient not in recipients(session, vault, case):
        raise UsageError("choose the referrer's address")
    row = outbound.queue(
        session,
        now,
        OutboundMail(
            kind="message",
            template="team_message",
            subject=SUBJECT,
            recipient=recipient,
            refs=[case.ref],
            context={"ref": case.ref, "text": text},
            follows=last_reply_thread(session, vault, case.ref, recipient),
            key_id=case.key_id,
        ),
    )
    row.written_by = author
    audit(session, now, author, "case.message_written", case_id=case.id, detail=row.id)
    return row
