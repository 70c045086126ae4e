"""Batches (issue 18): many messages in three commits, in one transaction (savepoints only
when a message raised, ``storing``).

A crash mid-batch repeats the work without doubling it; a poison message counts
attempts against itself only and its neighbours are handled; a failed move is left
in the inbox and said so (issue 13)."""

from __future__ import annotations

import errno
import os
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import sql_trace
from helpers.bot import eml, make_app, simple_referral
from helpers.pipeline import POISON, deliver_raw, dies_on_poison, handled, outbox_messages, poll
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError

from mailbot.app import App, build_app
from mailbot.clock import FixedClock
from mailbot.errors import MailboxError
from mailbot.intake.attempts import Attempts
from mailbot.intake.batch import handle_chunk
from mailbot.intake.poller import CycleResult, Poller
from mailbot.mail.mailbox import MailboxRef
from mailbot.mail.maildir import MaildirMailbox
from mailbot.mail.reader import InboundMessage, unreadable
from mailbot.settings import load_settings
from mailbot.store.models import Case, MessageAttempt, Outbox


@contextmanager
def counting(app: App) -> Iterator[dict[str, int]]:
    """Commits, statements and savepoints sent inside the block (counted when it ends)."""
    counts = {"commit": 0, "statement": 0, "savepoint": 0}

    def on_commit(_conn: object) -> None:
        counts["commit"] += 1

    event.listen(app.db.engine, "commit", on_commit)
    try:
        with sql_trace.statements(app.db.engine) as sent:
            yield counts
    finally:
        event.remove(app.db.engine, "commit", on_commit)
        counts["statement"] = len(sent)
        counts["savepoint"] = sum(s.startswith("SAVEPOINT") for s in sent)


def attempts_on_record(app: App) -> dict[str, int]:
    with app.db.session() as session:
        return {r.ref_index: r.attempts for r in session.scalars(select(MessageAttempt))}


def counts_of(app: App) -> tuple[int, int]:
    with app.db.session() as session:
        cases = session.scalar(select(func.count()).select_from(Case)) or 0
        replies = session.scalar(select(func.count()).select_from(Outbox)) or 0
    return cases, replies


def test_a_batch_takes_three_commits_whatever_its_size(any_app: App) -> None:
    """The attempts, the transaction, the attempts' end: 3 commits for N messages."""
    total = 12
    deliver_raw(any_app, [simple_referral(n, "batch") for n in range(total)])
    any_app.intake.ensure_folders()
    refs = any_app.mailbox.list_new()
    with counting(any_app) as counts:
        steps = list(handle_chunk(any_app.intake, refs, lambda: False))
    assert [s.kind for s in steps] == ["handled"] * total
    assert counts["commit"] <= 3, counts  # 3/N commits per message
    # One at a time: 31.3 a message; in savepoints, 18.9 (SQLite) and 20.1 (PostgreSQL),
    # 25 of them savepoints; stored at once: 13.9 and 15.1, one savepoint (the year's
    # reference counter, made once).
    assert total <= counts["statement"] < 16 * total, counts  # seen at all: a row each at least
    assert counts["savepoint"] <= 1, counts
    assert any_app.mailbox.list_new() == []
    assert attempts_on_record(any_app) == {}
    assert counts_of(any_app) == (total, total)
    rows = handled(any_app)
    assert len(rows) == total and all(r["action"] == "request_missing" for r in rows.values())


def test_one_message_at_a_time_takes_three_commits_each(app: App) -> None:
    """Before: four commits per message (the moved flag had one of its own)."""
    app.intake.batch_size = 1
    deliver_raw(app, [simple_referral(n, "single") for n in range(3)])
    app.intake.ensure_folders()
    with counting(app) as counts:
        steps = list(handle_chunk(app.intake, app.mailbox.list_new(), lambda: False))
    assert [s.kind for s in steps] == ["handled"] * 3
    assert counts["commit"] == 9


def test_a_message_the_core_cannot_handle_is_held_alone_in_its_batch(any_app: App) -> None:
    deliver_raw(any_app, [simple_referral(0, "n"), POISON + simple_referral(1, "p"), simple_referral(2, "n")])
    original = any_app.intake.apply

    def bug(session, msg, row, outcome, now):  # type: ignore[no-untyped-def]
        if msg.raw.startswith(POISON) and outcome.action != "quarantine":
            session.flush()  # its rows are in the database when it fails
            raise ZeroDivisionError("a bug in the core")
        return original(session, msg, row, outcome, now)

    any_app.intake.apply = bug  # type: ignore[method-assign]
    result = Poller(any_app).cycle()
    assert result.left == 0 and len(result.handled) == 3
    actions = {mid: r["action"] for mid, r in handled(any_app).items()}
    assert actions == {
        "<n-0@school.example.org>": "request_missing",
        "<p-1@school.example.org>": "quarantine",
        "<n-2@school.example.org>": "request_missing",
    }
    assert counts_of(any_app)[0] == 2  # the poison's case was rolled back with its savepoint
    assert attempts_on_record(any_app) == {}


def test_a_crash_mid_batch_repeats_the_work_once_and_counts_only_the_culprit(any_app: App) -> None:
    """A crash inside the transaction (an exception that is not the message's own:
    here as if killed) rolls the whole batch back; the neighbours' attempts are
    withdrawn, the culprit's counted; the next poll handles everything exactly once."""
    total = 6
    deliver_raw(any_app, [(POISON if n == 3 else b"") + simple_referral(n, "c") for n in range(total)])
    original = any_app.intake.apply
    crashes = {"left": 1}

    def dies(session, msg, row, outcome, now):  # type: ignore[no-untyped-def]
        refs = original(session, msg, row, outcome, now)
        if msg.raw.startswith(POISON) and crashes["left"]:
            crashes["left"] -= 1
            raise KeyboardInterrupt("killed inside the transaction")
        return refs

    any_app.intake.apply = dies  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        poll(any_app)
    assert len(any_app.mailbox.list_new()) == total and handled(any_app) == {}
    assert counts_of(any_app) == (0, 0)
    assert list(attempts_on_record(any_app).values()) == [1]  # the culprit's only
    retried = Attempts(any_app.db, any_app.vault, any_app.clock).retried(timedelta(minutes=2))
    assert retried.messages == 1

    result = Poller(any_app).cycle()
    assert len(result.handled) == total and result.left == 0
    assert any_app.mailbox.list_new() == []
    assert counts_of(any_app) == (total, total)
    assert {r["action"] for r in handled(any_app).values()} == {"request_missing"}
    assert len(outbox_messages(any_app)) == total
    assert attempts_on_record(any_app) == {}


class DiesWhenFiling(MaildirMailbox):
    """The process dies between the batch's commit and the moves."""

    def move_many(self, moves: object) -> None:
        raise KeyboardInterrupt("killed after the commit, before the moves")

    def move(self, ref: MailboxRef, folder: str) -> None:
        raise KeyboardInterrupt("killed after the commit, before the move")


def test_a_crash_between_the_batch_commit_and_the_moves_only_redoes_the_moves(
    tmp_path: Path, database_url: str, clock: FixedClock
) -> None:
    from helpers.bot import make_env

    total = 5
    settings = load_settings(env=make_env(tmp_path, database_url), base_dir=tmp_path)
    crashing = build_app(settings, clock=clock, mailbox=DiesWhenFiling(tmp_path / "var" / "inbox"))
    crashing.prepare()
    deliver_raw(crashing, [simple_referral(n, "m") for n in range(total)])
    with pytest.raises(KeyboardInterrupt):
        poll(crashing)
    crashing.close()

    app = make_app(tmp_path, database_url, clock)
    assert len(app.mailbox.list_new()) == total  # committed, not filed: nothing lost
    assert counts_of(app) == (total, total)
    result = Poller(app).cycle()
    assert len(result.handled) == total and all(h.duplicate for h in result.handled)
    assert app.mailbox.list_new() == []
    assert counts_of(app) == (total, total)  # nothing doubled
    assert len(outbox_messages(app)) == total
    assert attempts_on_record(app) == {}
    app.close()


def test_a_message_that_kills_the_bot_in_a_batch_never_gets_its_neighbours_held(
    tmp_path: Path, clock: FixedClock
) -> None:
    """Killed while reading the poison (as by SIGKILL, short of killing pytest): each
    time only the poison's attempts grow; the fourth poll holds it; the others are
    answered and were never tried more than once."""
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock)
    dies_on_poison(app)
    deliver_raw(app, [simple_referral(0, "k"), POISON + simple_referral(1, "k"), simple_referral(2, "k")])
    for attempt in (1, 2, 3):
        with pytest.raises(KeyboardInterrupt):
            poll(app)
        assert list(attempts_on_record(app).values()) == [attempt]
    poll(app)
    actions = sorted(r["action"] for r in handled(app).values())
    assert actions == ["quarantine", "request_missing", "request_missing"]
    assert app.mailbox.list_new() == [] and attempts_on_record(app) == {}
    app.close()


def test_a_batch_killed_outright_leaves_each_neighbour_one_attempt_then_handles_it_alone(app: App) -> None:
    """What SIGKILL leaves behind mid-batch: every message of the batch with one
    attempt and no error. The next poll handles each alone, and holds none."""
    total = 4
    deliver_raw(app, [simple_referral(n, "s") for n in range(total)])
    refs = app.mailbox.list_new()
    app.intake.attempts.begin_many(refs)  # the batch's first commit, then the kill
    with counting(app) as counts:
        result = Poller(app).cycle()
    assert len(result.handled) == total
    assert counts["commit"] >= 3 * total  # alone: three commits each
    assert {r["action"] for r in handled(app).values()} == {"request_missing"}
    assert attempts_on_record(app) == {}


class CannotFile(MaildirMailbox):
    """A full disk: the database commit succeeds, the move into the folder does not."""

    def move(self, ref: MailboxRef, folder: str) -> None:
        raise MailboxError(f"cannot move message {ref.uid}: {errno.errorcode[errno.ENOSPC]}")

    def move_many(self, moves: object) -> None:
        raise MailboxError("cannot move messages: No space left on device")


@pytest.mark.parametrize("batch_size", [1, 50])
def test_poll_once_counts_a_message_it_could_not_file_as_left(
    tmp_path: Path,
    clock: FixedClock,
    batch_size: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 13: a move that fails (disk full) was logged "skipped" and not counted;
    now ``poll --once`` says the message was left and exits 1, and the next poll,
    with room again, only files it."""
    from helpers.bot import make_env

    from mailbot.cli.main import main

    url = f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    settings = load_settings(env=make_env(tmp_path, url), base_dir=tmp_path)
    app = build_app(settings, clock=clock, mailbox=CannotFile(tmp_path / "var" / "inbox"))
    app.prepare()
    app.intake.batch_size = batch_size
    deliver_raw(app, [simple_referral(0, "full"), simple_referral(1, "full")])
    monkeypatch.setattr("mailbot.cli.intake.open_app", lambda args: app)
    assert main(["poll", "--once"]) == 1
    out, err = capsys.readouterr()
    assert "2 message(s) left in the inbox: 2 failed and will be tried again" in err
    assert len(app.mailbox.list_new()) == 2
    assert counts_of(app) == (2, 2)  # stored once, answered once
    retried = Attempts(app.db, app.vault, app.clock).retried(timedelta(minutes=2))
    assert retried.messages == 2

    fixed = make_app(tmp_path, url, clock)
    result = Poller(fixed).cycle()
    assert result.left == 0 and len(result.handled) == 2
    assert all(h.duplicate for h in result.handled)
    assert fixed.mailbox.list_new() == [] and counts_of(fixed) == (2, 2)
    assert attempts_on_record(fixed) == {}
    fixed.close()
    app.close()


def test_a_stop_request_mid_batch_finishes_what_was_read(app: App) -> None:
    """SIGTERM while the batch is being read: what was read is stored and filed, the
    rest stays in the inbox untouched (no attempt on record), counted not reached."""
    deliver_raw(app, [simple_referral(n, "stop") for n in range(5)])
    poller = Poller(app)
    read = app.intake.reader
    seen: list[int] = []

    def reader(raw: bytes) -> InboundMessage:
        seen.append(1)
        if len(seen) == 2:
            poller.stop()
        return read(raw)

    app.intake.reader = reader
    result = poller.cycle()
    assert len(result.handled) == 2 and result.not_reached == 3
    assert len(app.mailbox.list_new()) == 3
    assert attempts_on_record(app) == {}


def test_mixed_mail_in_one_batch_matches_one_at_a_time(tmp_path: Path, clock: FixedClock) -> None:
    """The sample mail, in one batch and one at a time: the same actions and replies."""
    names = [
        "mail-01-referral-complete",
        "mail-02-referral-incomplete",
        "mail-12-out-of-office",
        "mail-19-mailing-list",
        "mail-04-handtyped-dates",
    ]
    results = []
    for size in (50, 1):
        base = tmp_path / f"size{size}"
        app = make_app(base, f"sqlite:///{base / 'var' / 'mailbot.db'}", clock)
        app.intake.batch_size = size
        deliver_raw(app, [eml(name) for name in names])
        poll(app)
        rows = handled(app)
        results.append(
            (
                {mid: (r["action"], r["reason"]) for mid, r in rows.items()},
                sorted(str(m["Subject"]) for m in outbox_messages(app)),
            )
        )
        app.close()
    assert results[0] == results[1]
    assert len(results[0][0]) == len(names)


def test_four_workers_in_batches_never_handle_a_message_twice_nor_hold_it(
    tmp_path: Path, pg_url: str, clock: FixedClock
) -> None:
    """Four bots, one mailbox, one PostgreSQL database, polling at once in small
    batches: each message stored once, answered once, and none held as poison (before
    the claim, each worker counted an attempt at the messages the others were handling,
    and the fourth held a message the first was still answering)."""
    import threading

    total = 40
    workers = [make_app(tmp_path, pg_url, clock, MAILBOT_SANDBOX_WALL_SECONDS="60") for _ in range(4)]
    deliver_raw(workers[0], [simple_referral(n, "two") for n in range(total)])
    for worker in workers:
        worker.intake.batch_size = 7
    results: list[object] = []

    def run(worker: App) -> None:
        try:
            results.append(Poller(worker).cycle())
        except BaseException as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a worker is still polling"
    assert len(results) == len(workers), results
    assert not any(isinstance(r, BaseException) for r in results), results
    by_workers = sum(len(r.handled) for r in results if isinstance(r, CycleResult))
    cleanup = Poller(workers[0]).cycle()  # anything one worker skipped while the other held it
    assert by_workers == total or len(cleanup.handled) == 0, (by_workers, len(cleanup.handled))
    assert workers[0].mailbox.list_new() == []
    rows = handled(workers[0])
    assert len(rows) == total
    assert {r["action"] for r in rows.values()} == {"request_missing"}
    assert counts_of(workers[0]) == (total, total)
    assert len(outbox_messages(workers[0])) == total
    assert attempts_on_record(workers[0]) == {}
    for worker in workers:
        worker.close()


def test_a_batch_closes_at_its_size_in_bytes(app: App) -> None:
    """Large mail is not held in memory by the batchful: the batch closes at
    ``batch_bytes`` (here: two messages' worth)."""
    messages = [simple_referral(n, "size") for n in range(6)]
    app.intake.batch_bytes = 2 * max(len(m) for m in messages) + 8
    deliver_raw(app, messages)
    app.intake.ensure_folders()
    with counting(app) as counts:
        steps = list(handle_chunk(app.intake, app.mailbox.list_new(), lambda: False))
    assert [s.kind for s in steps] == ["handled"] * 6
    assert counts["commit"] == 9  # three batches of two, three commits each


# -- batch k+1 read in the sandbox while batch k is stored ----------------------------------


def test_the_next_batch_is_read_while_this_one_is_stored(app: App) -> None:
    """With the real sandbox: batch 2's first message is read (in the reader thread)
    while batch 1 is still being stored, before batch 1's commit; its attempts were on
    record before its reading began. Read one batch after another, the store of batch 1
    would wait in vain and the test fail."""
    app.intake.batch_size = 3
    deliver_raw(app, [simple_referral(n, "overlap") for n in range(6)])
    events: list[str] = []
    second_read = threading.Event()
    read, store = app.intake.reader, app.intake.store

    def reader(raw: bytes) -> InboundMessage:
        n = int(raw.split(b"overlap-", 1)[1][:1])
        if n == 3:
            events.append(f"read 3, attempts {sorted(attempts_on_record(app).values())}")
            second_read.set()
        return read(raw)

    def storing(session, ref, raw, message):  # type: ignore[no-untyped-def]
        if "store" not in events:  # batch 1's first store: batch 2 is read meanwhile
            events.append("store")
            assert second_read.wait(20), "batch 2 was not read while batch 1 was stored"
        return store(session, ref, raw, message)

    def on_commit(_conn: object) -> None:
        if threading.current_thread() is threading.main_thread():  # not the test's look
            events.append("commit")

    app.intake.reader = reader
    app.intake.store = storing  # type: ignore[method-assign]
    event.listen(app.db.engine, "commit", on_commit)
    try:
        result = Poller(app).cycle()
    finally:
        event.remove(app.db.engine, "commit", on_commit)
    assert len(result.handled) == 6 and result.left == 0
    # batch 1's attempts, batch 2's attempts, batch 1 stored while batch 2 is read
    third = [n for n, e in enumerate(events) if e == "commit"][2]  # batch 1's store
    assert sorted(events[:third]) == ["commit", "commit", "read 3, attempts [1, 1, 1, 1, 1, 1]", "store"]
    assert app.mailbox.list_new() == [] and attempts_on_record(app) == {}
    assert counts_of(app) == (6, 6)


def test_sigterm_mid_backlog_leaves_no_message_half_handled(app: App) -> None:
    """A real SIGTERM while batch 2 is read ahead: each message is either stored,
    answered and filed, or in the inbox with nothing on record."""
    app.intake.batch_size = 3
    total = 9
    deliver_raw(app, [simple_referral(n, "term") for n in range(total)])
    poller = Poller(app)
    read = app.intake.reader
    count: list[int] = []

    def reader(raw: bytes) -> InboundMessage:
        count.append(1)
        if len(count) == 4:  # batch 2's first message: batch 1 is being stored
            os.kill(os.getpid(), signal.SIGTERM)
        return read(raw)

    app.intake.reader = reader
    previous = signal.signal(signal.SIGTERM, poller.stop)
    try:
        result = poller.cycle()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert poller.stopping
    assert 3 <= len(result.handled) < total and result.failed == 0
    assert len(result.handled) + result.not_reached == total
    assert len(app.mailbox.list_new()) == result.not_reached
    assert attempts_on_record(app) == {}  # nothing begun and left
    assert counts_of(app) == (len(result.handled), len(result.handled))
    result = Poller(app).cycle()
    assert app.mailbox.list_new() == [] and counts_of(app) == (total, total)


def test_a_sandbox_breach_in_the_batch_read_ahead_is_isolated(app: App) -> None:
    """The child dies (a real crash) while batch 2 is read ahead in the reader thread:
    that message is held for a person; the child is replaced from the thread and the
    rest of both batches are answered."""
    app.intake.batch_size = 3
    deliver_raw(app, [(POISON if n == 4 else b"") + simple_referral(n, "breach") for n in range(6)])
    read = app.intake.reader
    breaches: list[str | None] = []

    def reader(raw: bytes) -> InboundMessage:
        if raw.startswith(POISON):
            breaches.append(app.sandbox.misbehave("crash"))
            return unreadable(raw, breaches[-1])
        return read(raw)

    app.intake.reader = reader
    result = Poller(app).cycle()
    assert breaches == ["crash"]
    assert len(result.handled) == 6 and result.left == 0
    actions = sorted(r["action"] for r in handled(app).values())
    assert actions.count("request_missing") == 5 and len(actions) == 6
    assert app.mailbox.list_new() == [] and attempts_on_record(app) == {}


CASE_WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE)\s+"?(case|ref_counter)"?[\s(]', re.IGNORECASE)
HEAD_LOCK = re.compile(r"\bFROM\s+audit_head\b.*\bFOR\s+UPDATE\b", re.IGNORECASE | re.DOTALL)


def test_an_intake_transaction_holds_the_audit_head_before_any_case_row(
    pg_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """One lock order for every worker: with two and four workers on PostgreSQL a batch
    failed (deadlock) when one had locked the case counter first and the head second,
    the other the reverse. A real poll: in each transaction that writes a case or the
    counter, the head is selected FOR UPDATE first, and held when the first case row is
    written (another connection cannot take it)."""
    bot = make_app(tmp_path, pg_url, clock)
    deliver_raw(bot, [simple_referral(n, "order") for n in range(3)])
    other = create_engine(pg_url)
    held: list[str | None] = []

    def probe(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if held or not CASE_WRITE.match(statement):
            return
        with other.connect() as conn:
            try:
                conn.execute(text("SELECT last_hash FROM audit_head FOR UPDATE NOWAIT"))
                held.append(None)
            except OperationalError as exc:
                held.append(getattr(exc.orig, "sqlstate", None))

    try:
        with sql_trace.transactions(bot.db.engine) as transactions:
            event.listen(bot.db.engine, "before_cursor_execute", probe)
            try:
                result = Poller(bot).cycle()
            finally:
                event.remove(bot.db.engine, "before_cursor_execute", probe)
    finally:
        other.dispose()
        bot.close()
    assert len(result.handled) == 3 and result.left == 0
    writing = [t for t in transactions if any(CASE_WRITE.match(s) for s in t)]
    assert writing, transactions  # the poll did write cases: the order below was looked at
    for statements in writing:
        first_write = next(n for n, s in enumerate(statements) if CASE_WRITE.match(s))
        assert any(HEAD_LOCK.search(s) for s in statements[:first_write]), statements[: first_write + 1]
    assert held == ["55P03"]  # lock_not_available: the head was held at the first case write
