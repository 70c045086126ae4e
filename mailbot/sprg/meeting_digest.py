"""The pre-meeting digest to the SPRG members.

Per case only the reference, the referring agency, the child's age band and the
themes: no names, no dates of birth, no incident text. One message per member, not one
with every member in To: members come from different agencies and need not see each
other's addresses, a reply-all cannot fan out, and each delivery is retried or fails on
its own in the outbox. When the team turns it on, the agenda pack goes with it as an
encrypted .docx (OOXML agile encryption); its password is set by the team and never sent
by the bot.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases.referral import age_band, age_on, get_path
from mailbot.clock import london, long_date
from mailbot.errors import ConfigError
from mailbot.outbound.mail import Attachment as MailAttachment
from mailbot.outbound.mail import Outbound, OutboundMail
from mailbot.settings import Settings
from mailbot.sprg.actions import overdue_by_agency
from mailbot.sprg.scheduling import PackCase
from mailbot.store.audit import audit
from mailbot.store.models import Meeting
from mailbot.store.vault import Vault

DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


@dataclass(frozen=True)
class DigestLine:
    ref: str
    agency: str
    age_band: str
    themes: str


def digest_lines(cases: list[PackCase], meeting: date) -> list[DigestLine]:
    out = []
    for case in cases:
        r = case.referral
        out.append(
            DigestLine(
                ref=case.ref,
                agency=str(get_path(r, "referrer.agency") or "not given"),
                age_band=age_band(age_on(get_path(r, "child.dob"), meeting)),
                themes=", ".join(r.get("themes") or []) or "none ticked",
            )
        )
    return out


def encrypt_docx(data: bytes, password: str) -> bytes:
    """OOXML agile encryption (what Word does for "Encrypt with Password")."""
    from msoffcrypto.format.ooxml import OOXMLFile  # only when a pack goes out: not every poll

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def meeting_row(session: Session, vault: Vault, meeting: date, now: datetime) -> Meeting:
    row = session.scalars(select(Meeting).where(Meeting.meeting_date == meeting)).one_or_none()
    if row is None:
        key_id = vault.new_key(session)
        session.flush()  # the data key row first: nothing here orders the two INSERTs
        row = Meeting(meeting_date=meeting, key_id=key_id, created_at=now, digest_cases=0)
        session.add(row)
        session.flush()
    return row


def digest_subject(meeting: date, refs: list[str]) -> str:
    count = f"{len(refs)} case{'s' if len(refs) != 1 else ''}"
    text = f"SPRG meeting {meeting:%d/%m/%Y}: agenda digest ({count})"
    # Every case's tag, however many (INTERFACE.md), after the words a reader scans first.
    return f"{text} " + " ".join(f"[{ref}]" for ref in refs) if refs else text


def queue_digest(
    session: Session,
    vault: Vault,
    settings: Settings,
    outbound: Outbound,
    now: datetime,
    meeting: date,
    cases: list[PackCase],
    *,
    actor: str = "mailbot",
) -> int:
    """Queue one digest per member; record that the meeting's digest went. Returns count."""
    if not settings.sprg_members:
        raise ConfigError("MAILBOT_SPRG_MEMBERS", "no SPRG members to send the digest to")
    row = meeting_row(session, vault, meeting, now)
    lines = digest_lines(cases, meeting)
    refs = [line.ref for line in lines]
    attachment: bytes | None = None
    if settings.sprg_attach_pack:
        if not settings.sprg_pack_password:
            raise ConfigError("MAILBOT_SPRG_PACK_PASSWORD", "must be set when MAILBOT_SPRG_ATTACH_PACK is on")
        from mailbot.sprg.pack import build_pack  # python-docx and lxml: 8 MB a poll spared

        pack = build_pack(meeting, cases, chair=settings.sprg_chair, compiled_on=london(now).date())
        attachment = encrypt_docx(pack, settings.sprg_pack_password)
    overdue = [
        (agency, [{"ref": a.ref, "due": f"{a.due:%d/%m/%Y}", "text": a.text} for a in items])
        for agency, items in overdue_by_agency(session, vault, london(now).date())
    ]
    context: dict[str, Any] = {
        "meeting": long_date(meeting),
        "meeting_short": f"{meeting:%d/%m/%Y}",
        "count": len(lines),
        "cases": lines,
        "chair": settings.sprg_chair,
        "attached": attachment is not None,
        "overdue_actions": overdue,
    }
    attachments = (
        ()
        if attachment is None
        else (
            MailAttachment(attachment, DOCX_TYPE[0], DOCX_TYPE[1], f"SPRG-agenda-{meeting.isoformat()}.docx"),
        )
    )
    for member in settings.sprg_members:  # one each: members never see each other's address
        outbound.queue(
            session,
            now,
            OutboundMail(
                kind="digest",
                template="sprg_digest",
                subject=digest_subject(meeting, refs),
                tagged=False,
                recipient=member,
                refs=refs,
                id_words=[meeting.isoformat()],
                key_id=row.key_id,
                context=context,
                attachments=attachments,
            ),
        )
    row.digest_sent_at = now
    row.digest_cases = len(lines)
    audit(
        session,
        now,
        actor,
        "sprg.digest",
        detail=(
            f"meeting {meeting.isoformat()}, {len(lines)} cases, {len(settings.sprg_members)} "
            f"members, pack {'attached (encrypted)' if attachment else 'not attached'}"
        ),
    )
    return len(settings.sprg_members)
