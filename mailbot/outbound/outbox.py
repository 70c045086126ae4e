"""The transactional outbox: replies are rows first, mail second.

A reply is queued in the same transaction as the message that caused it, with its
Message-ID fixed then. The drainer records each attempt *before* handing the message
over, so after a crash between the send and the update the row is found in ``sending``
and retried with the same Message-ID: a recipient (or the outbox folder) sees the same
message again, never a second, different one.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailbot.clock import Clock
from mailbot.errors import PermanentSendError, TemporarySendError
from mailbot.logs import redact
from mailbot.mail.sender import Sender
from mailbot.mail.thread_headers import OUTBOUND_POLICY, outbound_bytes
from mailbot.store.db import Database
from mailbot.store.models import Outbox
from mailbot.store.vault import Vault

log = logging.getLogger(__name__)

#: A row left in ``sending`` this long is taken to be from a crashed run.
SENDING_LEASE = timedelta(minutes=10)
BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0


def queue(
    session: Session,
    vault: Vault,
    now: datetime,
    message: EmailMessage,
    *,
    kind: str,
    recipient: str,
    case_refs: list[str],
    key_id: str,
    in_reply_to: str | None = None,
    topic_index: str | None = None,
) -> Outbox:
    row = Outbox(
        message_id=str(message["Message-ID"]),
        kind=kind,
        case_refs=case_refs,
        key_id=key_id,
        subject=str(message["Subject"]),
        in_reply_to=in_reply_to,
        state="queued",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        recipient_index=recipient_index(vault, recipient),
        topic_index=topic_index,
    )
    row.recipient_enc = vault.seal_text(session, row, "recipient_enc", recipient)
    row.message_enc = vault.seal(session, row, "message_enc", outbound_bytes(message))
    session.add(row)
    return row


def recipient_index(vault: Vault, address: str) -> str:
    """The keyed hash the outbox keeps of a recipient (``Outbox.recipient_index``)."""
    return vault.index("recipient", address.strip().lower())


def backoff(attempts: int) -> float:
    """Capped exponential backoff with full jitter (seconds)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


@dataclass
class DrainResult:
    sent: int = 0
    retry: int = 0
    failed: int = 0


class Drainer:
    def __init__(self, db: Database, vault: Vault, sender: Sender, clock: Clock, max_attempts: int) -> None:
        self.db = db
        self.vault = vault
        self.sender = sender
        self.clock = clock
        self.max_attempts = max_attempts

    def _claim(self) -> tuple[str, EmailMessage] | None:
        """Take one due row, mark the attempt, commit: the send comes after."""
        now = self.clock.now()
        with self.db.session() as session:
            stmt = (
                select(Outbox)
                .where(
                    or_(
                        (Outbox.state == "queued") & (Outbox.next_attempt_at <= now),
                        (Outbox.state == "sending") & (Outbox.next_attempt_at <= now - SENDING_LEASE),
                    )
                )
                .order_by(Outbox.created_at)
                .limit(1)
            )
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            row = session.scalars(stmt).first()
            if row is None:
                return None
            row.state = "sending"
            row.attempts += 1
            row.next_attempt_at = now
            raw = self.vault.open(session, row, "message_enc")
            # Parsed with the policy that writes msg-ids and Thread-Index unencoded, so
            # every sender serialises the stored bytes as they were fixed when queued.
            message = BytesParser(policy=OUTBOUND_POLICY).parsebytes(raw)
            assert isinstance(message, EmailMessage)  # an EmailPolicy makes EmailMessage
            return row.id, message

    def drain(self, limit: int = 1000) -> DrainResult:
        result = DrainResult()
        for _ in range(limit):
            claimed = self._claim()
            if claimed is None:
                break
            row_id, message = claimed
            try:
                self.sender.send(message)
            except TemporarySendError as exc:
                self._finish(row_id, error=str(exc), permanent=False)
                result.retry += 1
                continue
            except PermanentSendError as exc:
                self._finish(row_id, error=str(exc), permanent=True)
                result.failed += 1
                continue
            self._finish(row_id)
            result.sent += 1
        return result

    def _finish(self, row_id: str, *, error: str | None = None, permanent: bool = False) -> None:
        now = self.clock.now()
        with self.db.session() as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            if error is None:
                row.state, row.sent_at, row.last_error = "sent", now, None
                log.info(
                    "outbox sent", extra={"outbox_id": row.id, "kind": row.kind, "attempts": row.attempts}
                )
                return
            row.last_error = redact(error)[:500]
            if permanent or row.attempts >= self.max_attempts:
                row.state = "failed"
                log.warning(
                    "outbox failed",
                    extra={
                        "outbox_id": row.id,
                        "kind": row.kind,
                        "attempts": row.attempts,
                        "error": row.last_error,
                    },
                )
            else:
                row.state = "queued"
                row.next_attempt_at = now + timedelta(seconds=backoff(row.attempts))
                log.warning(
                    "outbox retry",
                    extra={
                        "outbox_id": row.id,
                        "attempts": row.attempts,
                        "error": row.last_error,
                        "next_attempt": row.next_attempt_at.isoformat(timespec="seconds"),
                    },
                )
