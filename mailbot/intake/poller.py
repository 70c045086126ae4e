"""The poll loop: handle what is in the mailbox, send what is due, wait, repeat.

The loop lives here and not in a backend (STYLE.md): a backend only knows how to wait
for new mail (IMAP IDLE, or a cheap poll). SIGTERM and SIGINT set a flag that is read
between messages, so the message in hand is finished before the process stops.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from datetime import datetime, timedelta
from types import FrameType

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailbot import shutdown
from mailbot.app import App
from mailbot.errors import ConfigError, MailboxAuthError, MailboxConnectionError, MailboxError
from mailbot.intake.batch import Step, handle_chunk
from mailbot.intake.pipeline import Handled
from mailbot.jobs.morning import morning_jobs
from mailbot.outbound.outbox import DrainResult
from mailbot.sprg import tasks as sprg_tasks
from mailbot.store.models import PollState

log = logging.getLogger(__name__)

#: The longest stretch a stop request (SIGTERM) may go unheard while waiting for mail.
WAIT_SLICE = 5.0
#: ``last_poll`` (``mailbot status``) is written at most this often, not on every cycle.
RECORD_EVERY = timedelta(seconds=30)


@dataclass
class CycleResult:
    handled: list[Handled] = field(default_factory=list)
    drained: DrainResult = field(default_factory=DrainResult)
    #: Messages that failed and stay in the inbox (tried again, held after
    #: ``mailbox.max_attempts``; one stored whose copy could not be filed counts here
    #: too), and those not reached because the bot was stopping.
    failed: int = 0
    not_reached: int = 0

    @property
    def left(self) -> int:
        """Messages this cycle left in the inbox."""
        return self.failed + self.not_reached


def record_state(session: Session, name: str, value: str, now: datetime) -> None:
    row = session.get(PollState, name)
    if row is None:
        try:
            with session.begin_nested():
                session.add(PollState(name=name, value=value, updated_at=now))
            return
        except IntegrityError:  # another worker wrote it first: update theirs
            row = session.get(PollState, name)
            assert row is not None
    row.value, row.updated_at = value, now


class Poller:
    def __init__(self, app: App, *, wait_slice: float = WAIT_SLICE) -> None:
        self.app = app
        self.stopping = False
        self.wait_slice = wait_slice
        self._recorded: datetime | None = None

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        if not self.stopping:
            log.info("stopping after the message in hand", extra={"signal": signum or 0})
        self.stopping = True

    def cycle(
        self, on_message: Callable[[Handled], None] | None = None, *, daily: bool = False
    ) -> CycleResult:
        result = CycleResult()
        intake = self.app.intake
        intake.ensure_folders()
        refs = self.app.mailbox.list_new()
        seen = 0
        try:  # in chunks of batch_size; batch k+1 read in the sandbox while k is stored
            for step in handle_chunk(intake, refs, lambda: self.stopping):
                seen += 1
                self._count(result, step, on_message)
        except (MailboxAuthError, MailboxConnectionError):
            raise  # the whole mailbox is unusable: the loop's retry deals with it
        except ConfigError:
            raise  # a wrong key file: stop (exit 2) rather than write under it
        except Exception as exc:  # noqa: BLE001 - a batch could not even begin (the
            # database is unreachable): the messages not done stay in the inbox for next time.
            log.error(
                "messages left in the inbox", extra={"count": len(refs) - seen, "error": type(exc).__name__}
            )
            result.failed += len(refs) - seen
        first = self.app.drainer.drain() if result.handled else DrainResult()  # replies before chores
        if daily:  # the working morning's reminders and team digest, once a day
            morning_jobs(self.app)
        sprg_tasks.run(self.app)  # scheduling by cut-off, digests, final-report reminders
        later = self.app.drainer.drain()  # what the chores queued
        result.drained = DrainResult(*(a + b for a, b in zip(astuple(first), astuple(later), strict=True)))
        now = self.app.clock.now()
        if self._recorded is None or abs(now - self._recorded) >= RECORD_EVERY:  # not a write a cycle
            with self.app.db.session() as session:
                record_state(session, "last_poll", now.isoformat(), now)
            self._recorded = now
        return result

    @staticmethod
    def _count(result: CycleResult, step: Step, on_message: Callable[[Handled], None] | None) -> None:
        if step.handled is not None:
            result.handled.append(step.handled)
            if on_message:
                on_message(step.handled)
        elif step.left:  # failed, or stored but not filed: either way still in the inbox
            result.failed += 1
        elif step.kind == "not_reached":
            result.not_reached += 1

    def _wait(self, interval: float) -> None:
        """Wait for new mail in slices, so a stop request is heard within a slice."""
        remaining = float(interval)
        while remaining > 0 and not self.stopping:
            piece = min(self.wait_slice, remaining)
            if self.app.mailbox.wait_for_new(timeout=piece):
                return
            self.app.sandbox.freshen()  # a quiet slice: a worn sandbox worker is replaced now
            remaining -= piece

    def run_forever(self, *, install_signals: bool = True) -> None:
        if install_signals:  # only the main thread may; tests run the loop in a thread
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
            if shutdown.requested():  # heard while the command line was still importing
                self.stop()
        interval = max(1, self.app.settings.poll_interval)
        while not self.stopping:
            try:
                self.cycle(daily=True)
            except MailboxAuthError:
                raise  # retrying a refused login only locks the account
            except MailboxError as exc:
                log.warning("mailbox unavailable; will retry", extra={"error": type(exc).__name__})
            if self.stopping:
                break
            try:
                self._wait(interval)
            except MailboxAuthError:
                raise
            except MailboxError as exc:
                log.warning("waiting for mail failed", extra={"error": type(exc).__name__})
                self.app.clock.sleep(min(interval, 5))
