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

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from mailbot.clock import Clock
from mailbot.errors import PermanentSendError, TemporarySendError
from mailbot.logs import redact
from mailbot.mail.sender import Sender
from mailbot.outbound.wire import Wire
from mailbot.store.db import Database
from mailbot.store.models import Outbox
from mailbot.store.vault import Vault

log = logging.getLogger(__name__)

#: A row left in ``sending`` this long is taken to be from a crashed run.
SENDING_LEASE = timedelta(minutes=10)
BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
#: Rows a drain takes per transaction (see ``Drainer``).
BATCH = 20


def queue(
    session: Session,
    vault: Vault,
    now: datetime,
    wire: Wire,
    *,
    kind: str,
    recipient: str,
    case_refs: list[str],
    key_id: str,
    in_reply_to: str | None = None,
    topic_index: str | None = None,
) -> Outbox:
    """The outbox row for ``wire``, added to ``session`` (the caller's transaction)."""
    row = Outbox(
        message_id=wire.message_id,
        kind=kind,
        case_refs=case_refs,
        key_id=key_id,
        subject=wire.subject,
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
    row.message_enc = vault.seal(session, row, "message_enc", wire.raw)
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
    """Sends what the outbox holds over one sender connection, in small batches.

    Per batch, one transaction records the outcomes of the batch before (after their
    sends) and takes up to ``batch`` due rows, marking their attempts (before their
    sends): no send before its attempt is recorded, none after its success is, and each
    row's failure is its own (backoff for that row only).

    The trade for one commit per batch instead of two per row: after a crash (a kill,
    a power cut) up to ``batch`` replies of the batch in hand, not one, may have gone
    out without their success recorded; after ``SENDING_LEASE`` they are sent again,
    each with its own same Message-ID (the same message again, never a different one),
    and the rows not yet sent wait for the lease too. An exception inside the process
    records the outcomes so far before it propagates.
    """

    def __init__(
        self, db: Database, vault: Vault, sender: Sender, clock: Clock, max_attempts: int, batch: int = BATCH
    ) -> None:
        self.db = db
        self.vault = vault
        self.sender = sender
        self.clock = clock
        self.max_attempts = max_attempts
        self.batch = max(1, batch)

    def drain(self, limit: int | None = None) -> DrainResult:
        """Send every row due when the drain starts, however many (``limit``: at most
        that many). A row put back for a later try is due after the start, so a drain
        always ends; rows queued while it runs wait for the next one."""
        result = DrainResult()
        due_by = self.clock.now()
        outcomes: list[_Outcome] = []
        stale = True  # rows left in "sending" by a crashed run: looked for until none
        taken = 0
        try:
            while True:
                want = self.batch if limit is None else min(self.batch, limit - taken)
                done, outcomes = outcomes, []  # a failed commit is not tried again below
                claimed, stale = self._step(done, due_by, stale, want)
                if not claimed:
                    break
                taken += len(claimed)
                for item in claimed:
                    outcomes.append(self._send(item, result))
        finally:
            if outcomes:  # also on the way out of an exception: what was sent is recorded
                self._step(outcomes, due_by, stale, 0)
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
        self, outcomes: list[_Outcome], due_by: datetime, stale: bool, want: int
    ) -> tuple[list[_Claimed], bool]:
        """One transaction: record the last sends' outcomes, then take up to ``want`` due
        rows and mark their attempts (their sends come after the commit)."""
        now = self.clock.now()
        with self.db.session() as session:
            sent = [outcome.claimed for outcome in outcomes if outcome.error is None]
            if sent:  # one UPDATE for the batch's successes, by id: no row is read again
                done = update(Outbox).where(Outbox.id.in_([item.row_id for item in sent]))
                session.execute(done.values(state="sent", sent_at=now, last_error=None))
            for item in sent:
                extra = {"outbox_id": item.row_id, "kind": item.kind, "attempts": item.attempts}
                log.info("outbox sent", extra=extra)
            for outcome in outcomes:
                if outcome.error is not None:
                    self._failed(session, outcome, now)
            rows: list[Outbox] = []
            if want > 0 and stale:
                rows = list(session.scalars(self._due("sending", now - SENDING_LEASE, want)))
                stale = len(rows) == want
            if want > len(rows):
                rows += session.scalars(self._due("queued", due_by, want - len(rows)))
            claimed = [
                _Claimed(row.id, row.kind, row.attempts + 1, self.vault.open(session, row, "message_enc"))
                for row in rows
            ]
            if claimed:  # the attempts, in one UPDATE: committed before any of them is sent
                session.execute(
                    update(Outbox)
                    .where(Outbox.id.in_([item.row_id for item in claimed]))
                    .values(state="sending", attempts=Outbox.attempts + 1, next_attempt_at=now)
                    .execution_options(synchronize_session=False)
                )
            return claimed, stale

    def _due(self, state: str, by: datetime, count: int) -> Select[Outbox]:
        """The ``count`` oldest rows in ``state`` due by ``by``: answered by the index on
        (state, next_attempt_at) without sorting the queue."""
        stmt = (
            select(Outbox)
            .where(Outbox.state == state, Outbox.next_attempt_at <= by)
            .order_by(Outbox.next_attempt_at)
            .limit(count)
        )
        return stmt.with_for_update(skip_locked=True) if self.db.dialect == "postgresql" else stmt

    def _failed(self, session: Session, outcome: _Outcome, now: datetime) -> None:
        """A failed send (``outcome.error`` set), by id: failed for good, or queued again
        after its backoff."""
        assert outcome.error is not None  # only failed outcomes come here
        claimed = outcome.claimed
        where = update(Outbox).where(Outbox.id == claimed.row_id)
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
