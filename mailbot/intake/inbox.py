"""The inbox side of a batch: fetch many, file many, and claim messages from other
workers (PostgreSQL advisory locks) before any attempt is counted."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text

from mailbot.errors import MailboxAuthError, MailboxConnectionError, MailboxError
from mailbot.intake.pipeline import Intake
from mailbot.mail.mailbox import Mailbox, MailboxRef

log = logging.getLogger(__name__)


def fetch_many(mailbox: Mailbox, refs: Sequence[MailboxRef]) -> Iterator[tuple[MailboxRef, bytes | None]]:
    """Each message's bytes (None: gone), in one round trip where the backend can."""
    yield from mailbox.fetch_many(refs)


def move_many(
    mailbox: Mailbox, moves: Sequence[tuple[MailboxRef, str]]
) -> tuple[set[MailboxRef], MailboxError | None]:
    """File the copies (one command where the backend can). Returns those not filed,
    and the error that made the whole mailbox unusable (the caller raises it once the
    attempts are on record), if one did."""
    if not moves:
        return set(), None
    try:
        mailbox.move_many(moves)
        return set(), None
    except (MailboxAuthError, MailboxConnectionError) as exc:
        return {ref for ref, _ in moves}, exc
    except MailboxError as exc:  # which ones moved? each again: a moved one is a no-op
        log.warning("moving a batch failed; moving one by one", extra={"error": type(exc).__name__})
    failed: set[MailboxRef] = set()
    for number, (ref, folder) in enumerate(moves):
        try:
            mailbox.move(ref, folder)
        except (MailboxAuthError, MailboxConnectionError) as exc:
            return failed | {r for r, _ in moves[number:]}, exc
        except MailboxError as exc:
            log.error(
                "message stored but not filed", extra={"mailbox_uid": ref.uid, "error": type(exc).__name__}
            )
            failed.add(ref)
    return failed, None


@contextmanager
def claimed(intake: Intake, refs: Sequence[MailboxRef]) -> Iterator[list[MailboxRef]]:
    """On PostgreSQL, the messages of ``refs`` no other worker is handling, held for
    this worker until the block ends (or its connection dies with it).

    Without this, workers listing the same inbox each count an attempt at the same
    message, and the fourth holds as poison a message the first is still handling.
    SQLite has one writer: there the attempts are the only record.
    """
    if intake.db.dialect != "postgresql" or not refs:
        yield list(refs)
        return
    keys = {ref: _lock_key(ref) for ref in refs}
    wanted = sorted(set(keys.values()))
    with intake.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        got: list[int] = list(
            connection.execute(
                text(
                    "SELECT k FROM unnest(CAST(:keys AS integer[])) AS k "
                    "WHERE pg_try_advisory_lock(:space, k)"
                ),
                {"keys": wanted, "space": LOCK_SPACE},
            ).scalars()
        )
        try:
            mine = set(got)
            yield [ref for ref in refs if keys[ref] in mine]
        finally:
            connection.execute(
                text("SELECT pg_advisory_unlock(:space, k) FROM unnest(CAST(:keys AS integer[])) AS k"),
                {"keys": got, "space": LOCK_SPACE},
            )


#: The first half of the two-integer advisory lock keys that claim a mailbox message
#: (the one-integer keys of ``Intake._claim`` are another key space).
LOCK_SPACE = 18


def _lock_key(ref: MailboxRef) -> int:
    return int.from_bytes(hashlib.sha256(ref.key.encode()).digest()[:4], "big", signed=True)
