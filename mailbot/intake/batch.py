"""Many messages in three commits: the backlog at the speed of its I/O (issue 18).

A batch of messages never tried before goes through the same steps as one message,
each step once for all of them:

1. their attempts are recorded in one commit, before any is read (``Attempts.begin_many``);
2. each is read in the sandbox, its attachments too (``Intake.preread``), outside any
   transaction, so the database's write lock is never held while a file is read;
3. one transaction stores them all, each message in its own savepoint: a message the
   core cannot handle is rolled back alone and held for a person, its neighbours kept;
4. after the commit, the mailbox copies are filed (``move_many``: one command for all);
5. one commit ends the attempts and marks the rows moved.

The safety rules are the single message's: every attempt is on record before the work
starts, the outbox rows are in the messages' transaction, the move follows the commit.

What batching trades, and why it is harmless:

- A crash (or an error the core does not isolate: the database gone, a wrong key file)
  in steps 2-3 rolls back the whole batch, so its neighbours' work is done again. The
  commit is atomic and every write is keyed (the dedupe key, Message-IDs fixed in the
  outbox rows), so the repeat duplicates nothing. When the bot lives through it, the
  neighbours' attempt records are withdrawn (only the culprit's counts) and they are
  tried again at once in a new batch.
- When the process dies outright, every message of the batch has one attempt on
  record; a message tried before is only ever handled alone (``Intake.handle_fetched``),
  so after the first crash a poison message counts attempts against itself only, and a
  neighbour has at most one attempt from someone else's crash. With
  ``mailbox.max_attempts`` 1 there is no batching, so no neighbour can ever be held.
- Several workers (PostgreSQL): a worker claims the messages it takes with a session
  advisory lock (``claimed``) before it counts an attempt, so the others leave them
  alone (and never count them); each message's transaction lock is held to the batch's
  commit, and a worker that comes later finds the message stored and only files it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text

from mailbot.errors import ConfigError, MailboxAuthError, MailboxConnectionError, MailboxError
from mailbot.intake.pipeline import Handled, Intake, NotMoved, Stored, log_handled
from mailbot.mail.mailbox import Mailbox, MailboxRef
from mailbot.mail.reader import InboundMessage

log = logging.getLogger(__name__)

StepKind = Literal["handled", "elsewhere", "gone", "failed", "unmoved", "not_reached"]


@dataclass(frozen=True)
class Step:
    """What became of one message in this cycle.

    ``handled`` (``handled`` says how; a duplicate too), ``elsewhere`` (another worker
    has it), ``gone`` (not in the inbox any more), ``failed`` (left in the inbox, tried
    again), ``unmoved`` (stored, but its copy could not be filed: left in the inbox),
    ``not_reached`` (the bot is stopping).
    """

    ref: MailboxRef
    kind: StepKind
    handled: Handled | None = None

    @property
    def left(self) -> bool:
        return self.kind in ("failed", "unmoved")


def fetch_many(mailbox: Mailbox, refs: Sequence[MailboxRef]) -> Iterator[tuple[MailboxRef, bytes | None]]:
    """Each message's bytes (None: gone), in one round trip where the backend can."""
    many = getattr(mailbox, "fetch_many", None)
    if many is not None:
        yield from many(refs)
        return
    for ref in refs:
        try:
            yield ref, mailbox.fetch(ref)
        except (MailboxAuthError, MailboxConnectionError):
            raise
        except MailboxError:
            yield ref, None


def move_many(
    mailbox: Mailbox, moves: Sequence[tuple[MailboxRef, str]]
) -> tuple[set[MailboxRef], MailboxError | None]:
    """File the copies (one command where the backend can). Returns those not filed,
    and the error that made the whole mailbox unusable (the caller raises it once the
    attempts are on record), if one did."""
    if not moves:
        return set(), None
    many = getattr(mailbox, "move_many", None)
    if many is not None:
        try:
            many(moves)
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


def handle_chunk(intake: Intake, refs: Sequence[MailboxRef], stopping: Callable[[], bool]) -> Iterator[Step]:
    """Every message of ``refs``, in delivery order: runs of messages never tried
    before in batches, a message tried before alone; one another worker is handling
    (``claimed``) is left to it, its attempts untouched."""
    with claimed(intake, refs) as mine:
        taken = set(mine)
        for ref in refs:
            if ref not in taken:
                log.info("message in hand at another worker", extra={"mailbox_uid": ref.uid})
                yield Step(ref, "elsewhere")
        yield from _handle_claimed(intake, mine, stopping)


def _handle_claimed(
    intake: Intake, refs: Sequence[MailboxRef], stopping: Callable[[], bool]
) -> Iterator[Step]:
    """Fetched as consumed; a batch closes at ``batch_bytes`` of raw mail, so a batch of
    large messages is held in memory no more than one large message would be."""
    batching = intake.batch_size > 1 and intake.settings.message_max_attempts > 1
    tried = intake.attempts.tried(refs) if batching else set()
    run: list[tuple[MailboxRef, bytes]] = []
    size = 0
    for number, (ref, raw) in enumerate(fetch_many(intake.mailbox, refs)):
        if raw is None:
            log.info("message skipped: no longer in the inbox", extra={"mailbox_uid": ref.uid})
            yield Step(ref, "gone")
            continue
        if stopping():
            yield from handle_batch(intake, run, stopping)
            yield from (Step(r, "not_reached") for r in refs[number:])
            return
        if batching and ref not in tried:
            if run and size + len(raw) > intake.batch_bytes:
                yield from handle_batch(intake, run, stopping)
                run, size = [], 0
            run.append((ref, raw))
            size += len(raw)
            continue
        yield from handle_batch(intake, run, stopping)
        run, size = [], 0
        yield handle_one(intake, ref, raw)
    yield from handle_batch(intake, run, stopping)


def handle_one(intake: Intake, ref: MailboxRef, raw: bytes) -> Step:
    try:
        handled = intake.handle_fetched(ref, raw)
    except NotMoved:
        return Step(ref, "unmoved")
    except (MailboxAuthError, MailboxConnectionError, ConfigError):
        raise  # the whole mailbox is unusable, or a wrong key file: the caller decides
    except MailboxError as exc:
        log.info("message skipped", extra={"mailbox_uid": ref.uid, "error": type(exc).__name__})
        return Step(ref, "gone")
    except Exception as exc:  # noqa: BLE001 - one message must not stop the others; it
        # stays in the inbox (nothing was committed) and is tried again next cycle.
        _left(ref, exc)
        return Step(ref, "failed")
    return Step(ref, "handled", handled) if handled is not None else Step(ref, "elsewhere")


def handle_batch(
    intake: Intake, items: Sequence[tuple[MailboxRef, bytes]], stopping: Callable[[], bool]
) -> list[Step]:
    """Messages never tried before, in the five steps of the module's docstring."""
    if len(items) <= 1:
        return [handle_one(intake, ref, raw) for ref, raw in items]
    raws = dict(items)
    begun = intake.attempts.begin_many([ref for ref, _ in items])
    batch = [ref for ref, _ in items if ref in begun]
    if not batch:
        return _alone(intake, items, begun)
    steps: list[Step] = []
    failed: list[tuple[MailboxRef, str]] = []
    not_reached: list[MailboxRef] = []
    read: list[tuple[MailboxRef, InboundMessage]] = []
    outcomes: list[tuple[MailboxRef, Stored | None]] = []
    current: MailboxRef | None = None
    try:
        for number, ref in enumerate(batch):
            if stopping():
                not_reached = batch[number:]
                break
            current = ref
            try:
                message = intake.read(raws[ref])
            except Exception as exc:  # noqa: BLE001 - as for one message: left, on record
                _left(ref, exc)
                failed.append((ref, type(exc).__name__))
                continue
            intake.preread(message)
            read.append((ref, message))
        with intake.db.session() as session:
            current = None
            intake.vault.hold_version(session)  # the transaction's first statement: a write
            for ref, message in read:
                current = ref
                try:
                    outcomes.append((ref, intake.store_isolated(session, ref, raws[ref], message)))
                except (ConfigError, MailboxError):
                    raise
                except Exception as exc:  # noqa: BLE001 - its savepoint is rolled back: alone
                    if _broken(exc):
                        raise
                    _left(ref, exc)
                    failed.append((ref, type(exc).__name__))
            current = None
    except BaseException as exc:
        done = {ref for ref, _ in failed}
        _withdraw(intake, [r for r in batch if r != current and r not in done], failed, current, exc)
        if current is None or not isinstance(exc, Exception) or isinstance(exc, ConfigError):
            raise
        # One message broke the batch: it alone stays (counted); the rest again, now.
        _left(current, exc)
        steps = [Step(ref, "failed") for ref in [*done, current]]
        rest = [(ref, raws[ref]) for ref in batch if ref != current and ref not in done]
        return steps + handle_batch(intake, rest, stopping) + _alone(intake, items, begun)
    finally:
        intake.forget_forms()
    # Committed: now the copies may be filed.
    moves = [(ref, stored.folder) for ref, stored in outcomes if stored is not None]
    unmoved, unusable = move_many(intake.mailbox, moves)
    moved_rows = []
    for ref, stored in outcomes:
        if stored is None:
            steps.append(Step(ref, "elsewhere"))
        elif ref in unmoved:
            steps.append(Step(ref, "unmoved"))
        else:
            moved_rows.append(stored.handled.message_row_id)
            log_handled(stored.handled)
            steps.append(Step(ref, "handled", stored.handled))
    intake.attempts.finish(
        done=[ref for ref, stored in outcomes if ref not in unmoved] + not_reached,
        moved_rows=moved_rows,
        failed=failed + [(ref, NotMoved.__name__) for ref in unmoved],
    )
    if unusable is not None:
        raise unusable  # on record; the poll loop's retry deals with the mailbox
    steps += [Step(ref, "failed") for ref, _ in failed]
    steps += [Step(ref, "not_reached") for ref in not_reached]
    return steps + _alone(intake, items, begun)


def _alone(intake: Intake, items: Sequence[tuple[MailboxRef, bytes]], begun: set[MailboxRef]) -> list[Step]:
    """Messages another worker began between our look and our record: each on its own."""
    return [handle_one(intake, ref, raw) for ref, raw in items if ref not in begun]


def _broken(exc: Exception) -> bool:
    """An error that is not the message's fault (the database went away): the batch ends."""
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError)


def _withdraw(
    intake: Intake,
    innocent: Sequence[MailboxRef],
    failed: Sequence[tuple[MailboxRef, str]],
    culprit: MailboxRef | None,
    exc: BaseException,
) -> None:
    """After a batch was rolled back: the culprit's attempt keeps its error's type, the
    failed ones theirs, and the others' records go (they were not at fault)."""
    errors = list(failed) + ([(culprit, type(exc).__name__)] if culprit is not None else [])
    try:
        intake.attempts.finish(done=innocent, failed=errors)
    except Exception as tidy:  # noqa: BLE001 - the database may be what broke: the
        # records stay, and each message is then tried alone (never held for this).
        log.warning("could not withdraw a batch's attempts", extra={"error": type(tidy).__name__})


def _left(ref: MailboxRef, exc: BaseException) -> None:
    log.error(
        "message failed; left in the inbox", extra={"mailbox_uid": ref.uid, "error": type(exc).__name__}
    )
