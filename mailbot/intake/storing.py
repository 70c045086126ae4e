"""A batch's one transaction: every message's rows, and then a single commit (issue 18).

A savepoint per message isolates its failure, but costs two statements each way,
round trips that on PostgreSQL were a fifth of a backlog's statements. Messages that
the core cannot handle are rare, so a batch is first stored without savepoints; if
any message raises, that transaction is rolled back whole and the batch is stored
again with each message in its own savepoint (``Intake.store_isolated``), which finds
the culprit and holds it for a person exactly as before.

What this trades: a batch with a bad message is stored twice (its rows written, rolled
back and written again); nothing is committed twice, and nothing leaves the process
between the two (the outbox is sent only after a commit, the mailbox moved after it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from mailbot.errors import ConfigError, MailboxError
from mailbot.intake.pipeline import Intake, Stored
from mailbot.mail.mailbox import MailboxRef
from mailbot.mail.reader import InboundMessage

log = logging.getLogger(__name__)

Outcomes = list[tuple[MailboxRef, Stored | None]]
#: Errors that are not a message's fault (a wrong key file, the mailbox or the database
#: gone): the batch ends, nobody is blamed or held for them.
NOT_THE_MESSAGES = (ConfigError, MailboxError, OperationalError)


@dataclass
class Storing:
    """A batch being stored: its messages (read), their bytes, those that failed even
    alone (left in the inbox), and which message the transaction was at when it broke
    (None: between messages, or at the commit), so that only that one is blamed."""

    read: Sequence[tuple[MailboxRef, InboundMessage]]
    raws: Mapping[MailboxRef, bytes]
    failed: list[tuple[MailboxRef, str]]
    current: MailboxRef | None = None


def store_all(intake: Intake, batch: Storing) -> Outcomes:
    """The batch's outcomes, committed; a message that failed even alone is added to
    ``batch.failed``. Errors that are not a message's fault propagate."""
    try:
        return _at_once(intake, batch)
    except NOT_THE_MESSAGES:
        raise
    except Exception as exc:  # noqa: BLE001 - rolled back whole: now one by one
        log.info("a batch is stored again, a message at a time", extra={"error": type(exc).__name__})
    return _one_by_one(intake, batch)


def _at_once(intake: Intake, batch: Storing) -> Outcomes:
    outcomes: Outcomes = []
    with intake.db.session() as session:
        intake.begin_writes(session)  # key version, then the audit head: one lock order
        for ref, message in batch.read:
            batch.current = ref
            outcomes.append((ref, intake.store(session, ref, batch.raws[ref], message)))
        batch.current = None
    return outcomes


def _one_by_one(intake: Intake, batch: Storing) -> Outcomes:
    outcomes: Outcomes = []
    with intake.db.session() as session:
        batch.current = None
        intake.begin_writes(session)
        for ref, message in batch.read:
            batch.current = ref
            try:
                outcomes.append((ref, intake.store_isolated(session, ref, batch.raws[ref], message)))
            except NOT_THE_MESSAGES:
                raise
            except Exception as exc:  # noqa: BLE001 - its savepoint is rolled back: alone
                left(ref, exc)
                batch.failed.append((ref, type(exc).__name__))
        batch.current = None
    return outcomes


def left(ref: MailboxRef, exc: BaseException) -> None:
    log.error(
        "message failed; left in the inbox", extra={"mailbox_uid": ref.uid, "error": type(exc).__name__}
    )
