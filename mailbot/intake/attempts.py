"""Poison messages: every attempt at a message is on record before the work starts.

A message that kills the bot (or fails the same way every time) would otherwise stay
first in the inbox and be tried again on every poll, blocking every referral behind
it, unseen by ``mailbot status``.  So each attempt is committed in its own
transaction before the message is read; the record goes when the message is handled.
A record found at the next try says the last attempt failed (its error's type) or
never finished (``interrupted``); after ``mailbox.max_attempts`` tries the message
is held for a person instead.  Nothing here holds personal data: the mailbox
reference is kept as a keyed hash, the error as its type name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from mailbot.clock import Clock
from mailbot.mail.mailbox import MailboxRef
from mailbot.store.db import Database
from mailbot.store.models import InboundMessage as MessageRow
from mailbot.store.models import MessageAttempt
from mailbot.store.vault import Vault

INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Attempt:
    """This try at one message: its number (1 for the first) and how the last one ended."""

    number: int
    last_error: str | None


@dataclass(frozen=True)
class Retried:
    """For ``mailbot status``: messages tried more than once and not yet handled."""

    messages: int
    most_attempts: int
    last_at: datetime | None


class Attempts:
    def __init__(self, db: Database, vault: Vault, clock: Clock) -> None:
        self.db = db
        self.vault = vault
        self.clock = clock

    def _key(self, ref: MailboxRef) -> str:
        return self.vault.index("mailbox-ref", ref.key)

    def begin(self, ref: MailboxRef) -> Attempt:
        """Record this attempt (committed before anything is read) and return it.

        Plain statements, not the ORM's unit of work: another worker may add or delete
        the same record at any moment, and a vanished row must not raise.
        """
        key, now = self._key(ref), self.clock.now()
        record = MessageAttempt
        for _ in range(3):
            with self.db.session() as session:
                # Still here: the last attempt failed, or the process died in it.
                found = session.execute(
                    update(record)
                    .where(record.ref_index == key)
                    .values(
                        attempts=record.attempts + 1,
                        last_at=now,
                        last_error=func.coalesce(record.last_error, INTERRUPTED),
                    )
                    .returning(record.attempts, record.last_error)
                ).first()
                if found is not None:
                    return Attempt(int(found[0]), found[1])
                try:
                    with session.begin_nested():
                        session.execute(
                            insert(record).values(ref_index=key, attempts=1, first_at=now, last_at=now)
                        )
                    return Attempt(1, None)
                except IntegrityError:  # another worker began it a moment ago
                    continue
        return Attempt(1, None)  # never settled: count this try as a first one

    def tried(self, refs: Sequence[MailboxRef]) -> set[MailboxRef]:
        """The messages among ``refs`` with an attempt on record (tried before, or in
        hand at another worker): one read, no commit."""
        keys = {self._key(ref): ref for ref in refs}
        if not keys:
            return set()
        with self.db.engine.connect() as connection:
            found = connection.execute(
                select(MessageAttempt.ref_index).where(MessageAttempt.ref_index.in_(list(keys)))
            ).scalars()
            return {keys[key] for key in found}

    def begin_many(self, refs: Sequence[MailboxRef]) -> set[MailboxRef]:
        """First attempts at several messages, in one commit, before any is read.

        Returns the messages recorded; one another worker began meanwhile is not among
        them (``INSERT ... ON CONFLICT DO NOTHING``), and is handled on its own.
        """
        keys = {self._key(ref): ref for ref in refs}
        if not keys:
            return set()
        now = self.clock.now()
        # The dialect's own INSERT, imported here: PostgreSQL's costs 2 MB a SQLite process.
        insert_or_skip: Any
        if self.db.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as insert_or_skip
        else:
            from sqlalchemy.dialects.sqlite import insert as insert_or_skip
        stmt = (
            insert_or_skip(MessageAttempt)
            .values([{"ref_index": k, "attempts": 1, "first_at": now, "last_at": now} for k in keys])
            .on_conflict_do_nothing(index_elements=["ref_index"])
            .returning(MessageAttempt.ref_index)
        )
        with self.db.session() as session:
            recorded = set(session.execute(stmt).scalars())
        return {keys[key] for key in recorded}

    def failed(self, ref: MailboxRef, error: BaseException) -> None:
        """The attempt ended in an error the bot lived through: keep its type."""
        record = MessageAttempt
        with self.db.session() as session:
            session.execute(
                update(record)
                .where(record.ref_index == self._key(ref))
                .values(last_error=type(error).__name__[:64])
            )

    def done(self, ref: MailboxRef, *, moved_row: str | None = None) -> None:
        """The message is handled (or another worker has it): nothing more to count.

        ``moved_row``: the stored message whose mailbox copy was just filed; its
        ``moved`` flag is set in the same commit (a plain UPDATE: no row is loaded).
        """
        self.finish(done=[ref], moved_rows=[moved_row] if moved_row else [])

    def finish(
        self,
        *,
        done: Sequence[MailboxRef] = (),
        moved_rows: Sequence[str] = (),
        failed: Sequence[tuple[MailboxRef, str]] = (),
    ) -> None:
        """One commit for the end of a batch: the handled messages' records go, their
        rows are marked moved, and the failures keep their error's type."""
        if not (done or moved_rows or failed):
            return
        with self.db.session() as session:
            if moved_rows:
                session.execute(
                    update(MessageRow)
                    .where(MessageRow.id.in_(list(moved_rows)))
                    .values(moved=True)
                    .execution_options(synchronize_session=False)  # nothing loaded, nothing synced
                )
            if done:
                keys = [self._key(ref) for ref in done]
                session.execute(delete(MessageAttempt).where(MessageAttempt.ref_index.in_(keys)))
            for ref, error in failed:
                session.execute(
                    update(MessageAttempt)
                    .where(MessageAttempt.ref_index == self._key(ref))
                    .values(last_error=error[:64])
                )

    def retried(self, stale_after: timedelta) -> Retried:
        """Messages tried more than once, or whose last try failed or was begun longer
        ago than any try can take (``stale_after``: the bot died in it)."""
        stale = self.clock.now() - stale_after
        with self.db.session() as session:
            count, most, last = session.execute(
                select(
                    func.count(), func.max(MessageAttempt.attempts), func.max(MessageAttempt.last_at)
                ).where(
                    or_(
                        MessageAttempt.attempts > 1,
                        MessageAttempt.last_error.is_not(None),
                        MessageAttempt.last_at < stale,
                    )
                )
            ).one()
        return Retried(int(count or 0), int(most or 0), last)
