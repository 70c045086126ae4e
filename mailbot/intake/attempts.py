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

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from mailbot.clock import Clock
from mailbot.mail.mailbox import MailboxRef
from mailbot.store.db import Database
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

    def failed(self, ref: MailboxRef, error: BaseException) -> None:
        """The attempt ended in an error the bot lived through: keep its type."""
        record = MessageAttempt
        with self.db.session() as session:
            session.execute(
                update(record)
                .where(record.ref_index == self._key(ref))
                .values(last_error=type(error).__name__[:64])
            )

    def done(self, ref: MailboxRef) -> None:
        """The message is handled (or another worker has it): nothing more to count."""
        with self.db.session() as session:
            session.execute(delete(MessageAttempt).where(MessageAttempt.ref_index == self._key(ref)))

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
