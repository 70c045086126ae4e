"""The transactional outbox: a crash between the send and the update never makes a new message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from helpers.bot import make_app, make_env, simple_referral
from sqlalchemy import event, select

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.mail.smtp import SmtpSender, SmtpSettings
from mailbot.outbound.outbox import BATCH, SENDING_LEASE, Drainer, queue
from mailbot.outbound.wire import wire_of
from mailbot.store.models import Outbox


class DiesAfterSending(SmtpSender):
    """Hands the message over, then the process 'dies' before the database update."""

    def send_raw(self, raw: bytes) -> None:
        super().send_raw(raw)
        raise KeyboardInterrupt("killed between the send and the update")


def _smtp_app(tmp_path: Path, clock: FixedClock, smtp) -> App:  # type: ignore[no-untyped-def]
    return make_app(
        tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock, MAILBOT_OUTBOUND_URL=smtp.url("smtp")
    )


def test_resend_after_a_crash_is_the_same_message(tmp_path: Path, clock: FixedClock, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app = _smtp_app(tmp_path, clock, smtp_server)
    app.mailbox.append(simple_referral(1, "outbox"))
    app.intake.ensure_folders()
    for ref in app.mailbox.list_new():
        app.intake.handle(ref)
    dying = Drainer(
        app.db,
        app.vault,
        DiesAfterSending(SmtpSettings(smtp_server.host, smtp_server.port, security="plain")),
        clock,
        max_attempts=5,
    )
    try:
        dying.drain()
    except KeyboardInterrupt:
        pass
    with app.db.session() as session:
        (row,) = session.scalars(select(Outbox)).all()
        assert row.state == "sending" and row.attempts == 1  # the attempt was recorded first
    app.drainer.drain()
    assert len(smtp_server.handler.received) == 1  # not resent while another may be sending
    clock.advance(seconds=SENDING_LEASE.total_seconds() + 1)
    app.drainer.drain()
    copies = [BytesParser(policy=policy.default).parsebytes(r.data) for r in smtp_server.handler.received]
    assert len(copies) == 2
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"]  # recognisably the same reply
    assert copies[0].get_body(("plain",)).get_content() == copies[1].get_body(("plain",)).get_content()
    with app.db.session() as session:
        (row,) = session.scalars(select(Outbox)).all()
        assert row.state == "sent" and row.attempts == 2


def test_sigterm_stops_the_poll_loop_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    env = {**os.environ, **make_env(tmp_path, url), "MAILBOT_POLL_INTERVAL": "60"}
    subprocess.run(
        [sys.executable, "-m", "mailbot", "init"], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailbot", "poll"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(2.0)  # in its wait for new mail
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 8  # heard within one wait slice (5 s)
    assert b"stopping after the message in hand" in err


def test_a_poll_cycle_sends_what_is_due(tmp_path: Path, clock: FixedClock, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app = _smtp_app(tmp_path, clock, smtp_server)
    app.mailbox.append(simple_referral(2, "outbox"))
    result = Poller(app).cycle()
    assert result.drained.sent == 1
    (received,) = smtp_server.handler.received
    assert received.rcpt_tos == ["referrer2@school.example.org"]


# -- a backlog: every due row in one drain, stored bytes sent as they are ---------------


def _tiny(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "cscp@example.org"
    message["To"] = f"referrer{n}@example.net"
    message["Subject"] = f"[COC-2026-{n:06d}] Referral received"
    message["Message-ID"] = f"<reply-{n}.{'r' * 60}@mailbot.example.org>"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content(f"Thank you ({n}). Caf\u00e9.\n")
    return message


def _queue_tiny(app: App, count: int, start: int = 0) -> None:
    with app.db.session() as session:
        key_id = app.vault.new_key(session)
        for n in range(start, start + count):
            queue(
                session,
                app.vault,
                app.clock.now(),
                wire_of(_tiny(n)),
                kind="ack",
                recipient=f"referrer{n}@example.net",
                case_refs=[],
                key_id=key_id,
            )


@pytest.fixture
def smtp_app(tmp_path: Path, clock: FixedClock, smtp_server) -> Iterator[App]:  # type: ignore[no-untyped-def]
    app = _smtp_app(tmp_path, clock, smtp_server)
    yield app
    app.close()


def test_one_drain_sends_more_than_the_old_limit_of_1000_over_one_connection(
    smtp_app: App,
    smtp_server,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    opened: list[object] = []
    original_open = SmtpSender._open

    def counting_open(self: SmtpSender):  # type: ignore[no-untyped-def]
        opened.append(self)
        return original_open(self)

    monkeypatch.setattr(SmtpSender, "_open", counting_open)
    _queue_tiny(smtp_app, 1030)
    result = smtp_app.drainer.drain()
    assert (result.sent, result.retry, result.failed) == (1030, 0, 0)
    assert len(smtp_server.handler.received) == 1030
    assert len(opened) == 1  # one SMTP connection for the whole drain
    with smtp_app.db.session() as session:
        assert set(session.scalars(select(Outbox.state))) == {"sent"}


def test_a_limit_still_bounds_a_drain(smtp_app: App, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _queue_tiny(smtp_app, 5)
    assert smtp_app.drainer.drain(limit=3).sent == 3
    assert smtp_app.drainer.drain().sent == 2


def test_the_bytes_sent_are_the_bytes_stored(smtp_app: App, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _queue_tiny(smtp_app, 3)
    with smtp_app.db.session() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.message_id)).all()
        stored = {row.message_id: smtp_app.vault.open(session, row, "message_enc") for row in rows}
    smtp_app.drainer.drain()
    got = {}
    for received in smtp_server.handler.received:
        message_id = BytesParser(policy=policy.default).parsebytes(received.data)["Message-ID"]
        got[str(message_id)] = received.data
    assert got == stored
    assert all(raw.count(b"\r\n") == raw.count(b"\n") for raw in stored.values())  # CRLF: the wire form


def test_a_row_stored_with_bare_lf_before_the_upgrade_goes_out_crlf(smtp_app: App, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _queue_tiny(smtp_app, 1)
    with smtp_app.db.session() as session:
        (row,) = session.scalars(select(Outbox)).all()
        raw = smtp_app.vault.open(session, row, "message_enc")
        row.message_enc = smtp_app.vault.seal(session, row, "message_enc", raw.replace(b"\r\n", b"\n"))
    smtp_app.drainer.drain()
    assert [r.data for r in smtp_server.handler.received] == [raw]


def test_a_failure_is_put_back_once_and_the_drain_ends(smtp_app: App, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _queue_tiny(smtp_app, 4)
    smtp_server.handler.fail_next(451)  # the first row: try later
    smtp_server.handler.fail_next(550)  # the second: never
    result = smtp_app.drainer.drain()
    assert (result.sent, result.retry, result.failed) == (2, 1, 1)
    with smtp_app.db.session() as session:
        states = sorted((row.state, row.attempts) for row in session.scalars(select(Outbox)))
        queued = session.scalars(select(Outbox).where(Outbox.state == "queued")).one()
        assert queued.next_attempt_at > smtp_app.clock.now() and queued.last_error
    assert states == [("failed", 1), ("queued", 1), ("sent", 1), ("sent", 1)]
    assert smtp_app.drainer.drain().sent == 0  # not due yet: not tried again in a loop


def test_each_row_is_read_once_and_a_batch_is_one_commit(smtp_app: App, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _queue_tiny(smtp_app, 2 * BATCH + 5)
    reads: list[str] = []
    commits: list[int] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM outbox" in statement:
            reads.append(statement)

    event.listen(smtp_app.db.engine, "before_cursor_execute", record)
    event.listen(smtp_app.db.engine, "commit", lambda conn: commits.append(1))
    try:
        assert smtp_app.drainer.drain().sent == 2 * BATCH + 5
    finally:
        event.remove(smtp_app.db.engine, "before_cursor_execute", record)
    # one claim per batch (3 batches, then the empty one) and the look for stale "sending" rows;
    # the outcomes are written by id, never read again
    assert len(reads) == 4 + 1
    assert len(commits) == 4  # each batch's claim, with the outcomes of the batch before


def test_a_drain_that_dies_mid_batch_records_what_it_sent(smtp_app: App, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _queue_tiny(smtp_app, 5)
    sender = smtp_app.drainer.sender
    sends = [0]
    original = sender.send_raw

    def third_dies(raw: bytes) -> None:
        sends[0] += 1
        if sends[0] == 3:
            raise KeyboardInterrupt("killed in the middle of a batch")
        original(raw)

    sender.send_raw = third_dies  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        smtp_app.drainer.drain()
    with smtp_app.db.session() as session:
        states = sorted(row.state for row in session.scalars(select(Outbox)))
    # two sent (recorded on the way out); the one in hand and the two not reached wait for the lease
    assert states == ["sending", "sending", "sending", "sent", "sent"]
    assert len(smtp_server.handler.received) == 2


def test_the_claim_uses_the_due_index_without_sorting(smtp_app: App) -> None:
    claim = str(smtp_app.drainer._due("queued", smtp_app.clock.now(), 20).compile(smtp_app.db.engine))
    with smtp_app.db.engine.connect() as conn:
        params = ("queued", "2026-10-12 09:15:00", 20, 0)  # state, due by, LIMIT, OFFSET
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {claim}", params).all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_outbox_due" in details and "TEMP B-TREE" not in details, details  # no sort of the queue


def test_two_drainers_at_once_send_each_row_once(
    tmp_path: Path, clock: FixedClock, smtp_server, pg_url: str
) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL, two workers draining the same outbox: SKIP LOCKED batches never overlap."""
    app = make_app(tmp_path, pg_url, clock, MAILBOT_OUTBOUND_URL=smtp_server.url("smtp"))
    _queue_tiny(app, 3 * BATCH + 7)
    results = []

    def worker() -> None:
        sender = SmtpSender(SmtpSettings(smtp_server.host, smtp_server.port, security="plain"))
        results.append(Drainer(app.db, app.vault, sender, clock, max_attempts=5).drain())
        sender.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [
        BytesParser(policy=policy.default).parsebytes(r.data)["Message-ID"]
        for r in smtp_server.handler.received
    ]
    assert len(ids) == len(set(ids)) == 3 * BATCH + 7
    assert sum(result.sent for result in results) == 3 * BATCH + 7
    with app.db.session() as session:
        assert set(session.scalars(select(Outbox.state))) == {"sent"}
    app.close()
