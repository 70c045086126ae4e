"""The transactional outbox: a crash between the send and the update never makes a new message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

from helpers.bot import make_app, make_env, simple_referral
from sqlalchemy import select

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.mail.smtp import SmtpSender, SmtpSettings
from mailbot.outbound.outbox import SENDING_LEASE, Drainer
from mailbot.store.models import Outbox


class DiesAfterSending(SmtpSender):
    """Hands the message over, then the process 'dies' before the database update."""

    def send(self, message):  # type: ignore[no-untyped-def]
        super().send(message)
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
