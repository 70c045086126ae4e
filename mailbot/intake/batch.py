"""Many messages in three commits: the backlog at the speed of its I/O (issue 18).

A batch of messages never tried before goes through the same steps as one message,
each step once for all of them:

1. their attempts are recorded in one commit, before any is read (``Attempts.begin_many``);
2. each is read in the sandbox, its attachments too (``Intake.preread``), outside any
   transaction, so the database's write lock is never held while a file is read;
3. one transaction stores them all (``storing.store_all``): at once, and if a message
   raised, again with each in its own savepoint, so that a message the core cannot
   handle is rolled back alone and held for a person, its neighbours kept;
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

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Literal

from mailbot.errors import ConfigError, MailboxAuthError, MailboxConnectionError, MailboxError
from mailbot.intake.inbox import claimed, fetch_many, move_many
from mailbot.intake.pipeline import Handled, Intake, NotMoved, log_handled
from mailbot.intake.storing import Outcomes, Storing, left, store_all
from mailbot.mail.mailbox import MailboxRef
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


def handle_chunk(intake: Intake, refs: Sequence[MailboxRef], stopping: Callable[[], bool]) -> Iterator[Step]:
    """Every message of ``refs``, in delivery order, in chunks of ``batch_size``: runs of
    messages never tried before in batches, a message tried before alone; one another
    worker is handling (``claimed``) is left to it, its attempts untouched.

    Batch k+1 is read in the sandbox (by one reader thread, which owns every read of a
    batch) while batch k is stored, filed and committed: the child reads while the
    bot writes. Batch k+1's attempts are committed before its reading starts, and at
    most one batch is read ahead. Whatever ends the loop early withdraws the attempts
    of a batch begun and not stored (after its reading stopped), as a crash would."""
    begun: list[_Begun] = []
    try:
        for item in _work(intake, refs, stopping):
            if isinstance(item, Step):
                yield item
            elif callable(item):  # a chunk's claims: dropped once its batches are stored
                (begun[-1].release.append(item) if begun else item())
            elif isinstance(item, tuple):  # tried before: alone, in its turn
                while begun:
                    yield from _finish(intake, begun.pop(0), stopping)
                yield handle_one(intake, *item)
            elif stopping():
                yield from (Step(ref, "not_reached") for ref, _ in item)
            else:
                begun.append(_begin(intake, item, stopping, _reader()))
                while len(begun) > 1:  # store k while the reader reads k+1
                    yield from _finish(intake, begun.pop(0), stopping)
        while begun:
            yield from _finish(intake, begun.pop(0), stopping)
    except BaseException as exc:
        for batch in begun:
            _abandon(intake, batch, exc)
        raise
    finally:
        for batch in begun:
            _release(batch)


def _reader() -> Executor:
    """The one reader thread, for the process's life: a sandbox child dies with the
    thread that started it (``PR_SET_PDEATHSIG``), so that thread must outlive it."""
    with _READER_LOCK:
        if not _READER:
            _READER.append(ThreadPoolExecutor(1, thread_name_prefix="mailbot-read"))
        return _READER[0]


_READER: list[Executor] = []
_READER_LOCK = threading.Lock()


Work = Step | Callable[[], None] | tuple[MailboxRef, bytes] | list[tuple[MailboxRef, bytes]]


def _work(intake: Intake, refs: Sequence[MailboxRef], stopping: Callable[[], bool]) -> Iterator[Work]:
    """Per chunk: its claims taken, then its steps, lone messages and batches, then the
    function that drops its claims (the caller's, once the chunk's batches are stored)."""
    size = max(1, intake.batch_size)
    for start in range(0, len(refs), size):
        if stopping():
            yield from (Step(ref, "not_reached") for ref in refs[start:])
            return
        chunk = refs[start : start + size]
        claims = ExitStack()
        try:
            mine = claims.enter_context(claimed(intake, chunk))
            taken = set(mine)
            for ref in chunk:
                if ref not in taken:
                    log.info("message in hand at another worker", extra={"mailbox_uid": ref.uid})
                    yield Step(ref, "elsewhere")
            yield from _handle_claimed(intake, mine, stopping)
        except BaseException:
            claims.close()
            raise
        yield claims.close


def _handle_claimed(
    intake: Intake, refs: Sequence[MailboxRef], stopping: Callable[[], bool]
) -> Iterator[Work]:
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
            yield from _run(run)
            yield from (Step(r, "not_reached") for r in refs[number:])
            return
        if batching and ref not in tried:
            if run and size + len(raw) > intake.batch_bytes:
                yield from _run(run)
                run, size = [], 0
            run.append((ref, raw))
            size += len(raw)
            continue
        yield from _run(run)
        run, size = [], 0
        yield ref, raw
    yield from _run(run)


def _run(run: list[tuple[MailboxRef, bytes]]) -> Iterator[Work]:
    if len(run) == 1:
        yield run[0]
    elif run:
        yield run


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
        left(ref, exc)
        return Step(ref, "failed")
    return Step(ref, "handled", handled) if handled is not None else Step(ref, "elsewhere")


@dataclass
class _Read:
    """A batch as the sandbox read it (steps 2)."""

    read: list[tuple[MailboxRef, InboundMessage]] = field(default_factory=list)
    failed: list[tuple[MailboxRef, str]] = field(default_factory=list)
    not_reached: list[MailboxRef] = field(default_factory=list)
    #: The message whose reading raised what is not an Exception (as if killed), and that.
    crash: tuple[MailboxRef, BaseException] | None = None


@dataclass
class _Begun:
    """A batch whose attempts are on record (step 1), being read or read."""

    items: Sequence[tuple[MailboxRef, bytes]]
    begun: set[MailboxRef]
    batch: list[MailboxRef]
    reading: Future[_Read]
    cancel: threading.Event
    release: list[Callable[[], None]] = field(default_factory=list)


def _begin(
    intake: Intake,
    items: Sequence[tuple[MailboxRef, bytes]],
    stopping: Callable[[], bool],
    reader: Executor | None,
) -> _Begun:
    """Step 1, then step 2 handed to ``reader`` (None: read here, now)."""
    begun = intake.attempts.begin_many([ref for ref, _ in items])
    batch = [ref for ref, _ in items if ref in begun]
    cancel = threading.Event()
    raws = dict(items)

    def halted() -> bool:
        return cancel.is_set() or stopping()

    if reader is not None and batch:
        reading = reader.submit(_read_all, intake, batch, raws, halted)
    else:
        reading = Future()
        reading.set_result(_read_all(intake, batch, raws, halted))
    return _Begun(items, begun, batch, reading, cancel)


def _read_all(
    intake: Intake, batch: list[MailboxRef], raws: dict[MailboxRef, bytes], stopping: Callable[[], bool]
) -> _Read:
    out = _Read()
    for number, ref in enumerate(batch):
        if stopping():
            out.not_reached = batch[number:]
            break
        try:
            message = intake.read(raws[ref])
        except Exception as exc:  # noqa: BLE001 - as for one message: left, on record
            left(ref, exc)
            out.failed.append((ref, type(exc).__name__))
            continue
        except BaseException as exc:  # noqa: BLE001 - raised again by the batch's owner
            out.crash = (ref, exc)
            break
        intake.preread(message)
        out.read.append((ref, message))
    return out


def handle_batch(
    intake: Intake, items: Sequence[tuple[MailboxRef, bytes]], stopping: Callable[[], bool]
) -> list[Step]:
    """Messages never tried before, in the five steps of the module's docstring."""
    if len(items) <= 1:
        return [handle_one(intake, ref, raw) for ref, raw in items]
    return _finish(intake, _begin(intake, items, stopping, None), stopping)


def _finish(intake: Intake, begun: _Begun, stopping: Callable[[], bool]) -> list[Step]:
    try:
        return _store(intake, begun, stopping)
    finally:
        _release(begun)


def _store(intake: Intake, b: _Begun, stopping: Callable[[], bool]) -> list[Step]:
    """Steps 3-5 of a begun batch, once its reading is done."""
    items, begun, batch = b.items, b.begun, b.batch
    if not batch:
        return _alone(intake, items, begun)
    raws = dict(items)
    steps: list[Step] = []
    outcomes: Outcomes = []
    got = _Read()
    at = Storing(got.read, raws, got.failed)
    try:
        got = b.reading.result()
        at = Storing(got.read, raws, got.failed)  # store_all adds who fails even alone
        if got.crash is not None:
            at.current = got.crash[0]
            raise got.crash[1]
        outcomes = store_all(intake, at)
    except BaseException as exc:
        current, done = at.current, {ref for ref, _ in got.failed}
        _withdraw(intake, [r for r in batch if r != current and r not in done], got.failed, current, exc)
        if current is None or not isinstance(exc, Exception) or isinstance(exc, ConfigError):
            raise
        # One message broke the batch: it alone stays (counted); the rest again, now.
        left(current, exc)
        steps = [Step(ref, "failed") for ref in [*done, current]]
        rest = [(ref, raws[ref]) for ref in batch if ref != current and ref not in done]
        return steps + handle_batch(intake, rest, stopping) + _alone(intake, items, begun)
    finally:
        _forget(intake, got)
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
        done=[ref for ref, stored in outcomes if ref not in unmoved] + got.not_reached,
        moved_rows=moved_rows,
        failed=got.failed + [(ref, NotMoved.__name__) for ref in unmoved],
    )
    if unusable is not None:
        raise unusable  # on record; the poll loop's retry deals with the mailbox
    steps += [Step(ref, "failed") for ref, _ in got.failed]
    steps += [Step(ref, "not_reached") for ref in got.not_reached]
    return steps + _alone(intake, items, begun)


def _forget(intake: Intake, got: _Read) -> None:
    intake.forget_forms(message for _, message in got.read)


def _release(begun: _Begun) -> None:
    while begun.release:
        begun.release.pop(0)()


def _abandon(intake: Intake, begun: _Begun, exc: BaseException) -> None:
    """A batch begun but never stored (the loop ended first): its reading stopped, its
    attempts withdrawn but for a message whose reading crashed."""
    begun.cancel.set()
    try:
        got = begun.reading.result()
    except BaseException:  # noqa: BLE001 - nothing read is kept
        got = _Read()
    _forget(intake, got)
    culprit = got.crash[0] if got.crash else None
    _withdraw(intake, [r for r in begun.batch if r != culprit], got.failed, culprit, exc)


def _alone(intake: Intake, items: Sequence[tuple[MailboxRef, bytes]], begun: set[MailboxRef]) -> list[Step]:
    """Messages another worker began between our look and our record: each on its own."""
    return [handle_one(intake, ref, raw) for ref, raw in items if ref not in begun]


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
