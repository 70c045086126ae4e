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

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from mailbot.clock import Clock
from mailbot.errors import PermanentSendError, TemporarySendError
from mailbot.logs import redact
from mailbot.mail.sender import Sender
from mailbot.mail.thread_headers import outbound_bytes
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
    # The wire form (CRLF), stored once: the drainer sends these bytes as they are.
    row.message_enc = vault.seal(session, row, "message_enc", outbound_bytes(message, linesep="\r\n"))
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


@dataclass(frozen=True)
class _Claimed:
    """A row taken for one attempt: what the send and its outcome need, read once."""

    row_id: str
    kind: str
    attempts: int
    raw: bytes


@dataclass(frozen=True)
class _Outcome:
    claimed: _Claimed
    error: str | None = None
    permanent: bool = False


class Drainer:
    """Sends what the outbox holds, a row at a time, over one sender connection.

    Per row: its attempt is committed before the send; its outcome is committed after
    the send, in the same transaction that claims the next row (one commit per row, and
    still: no send before its attempt is recorded, none after its success is).
    """

    def __init__(self, db: Database, vault: Vault, sender: Sender, clock: Clock, max_attempts: int) -> None:
        self.db = db
        self.vault = vault
        self.sender = sender
        self.clock = clock
        self.max_attempts = max_attempts

    def drain(self, limit: int | None = None) -> DrainResult:
        """Send every row due when the drain starts, however many (``limit``: at most
        that many). A row put back for a later try is due after the start, so a drain
        always ends; rows queued while it runs wait for the next one."""
        result = DrainResult()
        due_by = self.clock.now()
        outcome: _Outcome | None = None
        stale = True  # rows left in "sending" by a crashed run: looked for until none
        taken = 0
        while limit is None or taken < limit:
            claimed, stale = self._step(outcome, due_by, stale)
            outcome = None
            if claimed is None:
                break
            taken += 1
            outcome = self._send(claimed, result)
        if outcome is not None:
            self._step(outcome, due_by, stale, claim=False)
        return result

    def _send(self, claimed: _Claimed, result: DrainResult) -> _Outcome:
        try:
            self.sender.send_raw(claimed.raw)  # the bytes stored when it was queued
        except TemporarySendError as exc:
            result.retry += 1
            return _Outcome(claimed, str(exc))
        except PermanentSendError as exc:
            result.failed += 1
            return _Outcome(claimed, str(exc), permanent=True)
        result.sent += 1
        return _Outcome(claimed)

    def _step(
        self, outcome: _Outcome | None, due_by: datetime, stale: bool, *, claim: bool = True
    ) -> tuple[_Claimed | None, bool]:
        """One transaction: record the last send's outcome, then take the next due row and
        mark its attempt (the send comes after the commit)."""
        now = self.clock.now()
        with self.db.session() as session:
            if outcome is not None:
                self._record(session, outcome, now)
            if not claim:
                return None, stale
            row = session.scalars(self._due("sending", now - SENDING_LEASE)).first() if stale else None
            stale = row is not None
            row = row or session.scalars(self._due("queued", due_by)).first()
            if row is None:
                return None, stale
            row.state = "sending"
            row.attempts += 1
            row.next_attempt_at = now
            raw = self.vault.open(session, row, "message_enc")
            return _Claimed(row.id, row.kind, row.attempts, raw), stale

    def _due(self, state: str, by: datetime) -> Select[Outbox]:
        """The oldest row in ``state`` due by ``by``: answered by the index on (state,
        next_attempt_at) without sorting the queue."""
        stmt = (
            select(Outbox)
            .where(Outbox.state == state, Outbox.next_attempt_at <= by)
            .order_by(Outbox.next_attempt_at)
            .limit(1)
        )
        return stmt.with_for_update(skip_locked=True) if self.db.dialect == "postgresql" else stmt

    def _record(self, session: Session, outcome: _Outcome, now: datetime) -> None:
        """The outcome, by id (an UPDATE: the row is not read again)."""
        claimed = outcome.claimed
        where = update(Outbox).where(Outbox.id == claimed.row_id)
        if outcome.error is None:
            session.execute(where.values(state="sent", sent_at=now, last_error=None))
            log.info(
                "outbox sent",
                extra={"outbox_id": claimed.row_id, "kind": claimed.kind, "attempts": claimed.attempts},
            )
            return
        error = redact(outcome.error)[:500]
        if outcome.permanent or claimed.attempts >= self.max_attempts:
            session.execute(where.values(state="failed", last_error=error))
            log.warning(
                "outbox failed",
                extra={
                    "outbox_id": claimed.row_id,
                    "kind": claimed.kind,
                    "attempts": claimed.attempts,
                    "error": error,
                },
            )
            return
        next_attempt = now + timedelta(seconds=backoff(claimed.attempts))
        session.execute(where.values(state="queued", next_attempt_at=next_attempt, last_error=error))
        log.warning(
            "outbox retry",
            extra={
                "outbox_id": claimed.row_id,
                "attempts": claimed.attempts,
                "error": error,
                "next_attempt": next_attempt.isoformat(timespec="seconds"),
            },
        )
