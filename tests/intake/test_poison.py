"""Poison messages (issue 13): a message that kills the bot, or fails every time, is
tried ``mailbox.max_attempts`` times and then held for a person, so the referrals
behind it are handled; ``status`` says it was retried and ``poll --once`` says it was
left behind."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import hostile
from helpers.bot import eml, make_app, make_env
from helpers.pipeline import POISON, dies_on_poison, handled, outbox_messages, poll

from mailbot.cli.main import main
from mailbot.clock import FixedClock
from mailbot.intake.attempts import Attempts
from mailbot.mail.maildir import MaildirMailbox
from mailbot.mail.reader import InboundMessage

TEAM = "cscp-team@example.org"


def status_json(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["status", "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    return tmp_path


def test_a_message_that_kills_the_bot_is_held_after_three_attempts(
    workdir: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(workdir, f"sqlite:///{workdir / 'var' / 'mailbot.db'}", clock)
    dies_on_poison(app)
    app.mailbox.append(POISON + eml("mail-02-referral-incomplete"))
    time.sleep(0.01)  # Maildir names carry the time: keep the delivery order
    app.mailbox.append(eml("mail-01-referral-complete"))
    code, report = status_json(capsys)
    assert (code, report["retried_messages"]) == (0, 0)
    for attempt in (1, 2, 3):
        with pytest.raises(KeyboardInterrupt):
            poll(app)
        assert len(app.mailbox.list_new()) == 2 and handled(app) == {}
        code, report = status_json(capsys)
        assert code == 1 and report["needs_person"] is True
        assert report["retried_messages"] == 1 and report["most_attempts"] == attempt
    main(["status"])
    assert "retried messages:   1 (tried up to 3 times" in capsys.readouterr().out

    poll(app)  # the fourth time it is not read at all: held, and the next one handled
    rows = list(handled(app).values())
    assert [r["action"] for r in rows] == ["quarantine", "accept"]
    assert "after 3 attempts (last: KeyboardInterrupt)" in rows[0]["reason"]
    assert app.mailbox.list_new() == []
    alerts = [m for m in outbox_messages(app) if str(m["To"]) == TEAM]
    assert len(alerts) == 1
    assert "after 3 attempts" in alerts[0].get_body(("plain",)).get_content()
    assert Attempts(app.db, app.vault, app.clock).retried(timedelta(minutes=2)).messages == 0
    code, report = status_json(capsys)
    assert report["retried_messages"] == 0 and report["quarantine"] == 1
    app.close()


def test_poll_once_says_what_it_left_in_the_inbox(
    workdir: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message whose handling fails (here: the reader breaks, as a full disk would
    break a write) stays in the inbox; ``poll --once`` exits 1 and says so."""
    app = make_app(workdir, f"sqlite:///{workdir / 'var' / 'mailbot.db'}", clock)

    def broken(raw: bytes) -> InboundMessage:
        raise OSError(28, "No space left on device")

    app.intake.reader = broken
    app.mailbox.append(eml("mail-01-referral-complete"))
    monkeypatch.setattr("mailbot.cli.intake.open_app", lambda args: app)
    assert main(["poll", "--once"]) == 1
    out, err = capsys.readouterr()
    assert "handled 0 message(s)" in out
    assert "1 message(s) left in the inbox: 1 failed and will be tried again" in err
    assert len(app.mailbox.list_new()) == 1
    retried = Attempts(app.db, app.vault, app.clock).retried(timedelta(minutes=2))
    assert retried.messages == 1  # its error is on record: OSError
    app.close()


@pytest.mark.slow
def test_bot_killed_mid_message_twice_then_the_message_is_held(tmp_path: Path) -> None:
    """``poll --once`` is SIGKILLed while its sandbox reads a slow PDF, twice; with
    ``mailbox.max_attempts`` 2, the third run holds that message and acknowledges the
    referral behind it."""
    url = f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    env = {**os.environ, **make_env(tmp_path, url, MAILBOT_MESSAGE_MAX_ATTEMPTS="2")}
    mailbot = [sys.executable, "-m", "mailbot"]
    subprocess.run([*mailbot, "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    box = MaildirMailbox(tmp_path / "var" / "inbox")
    box.append(hostile.with_attachment("referral.pdf", hostile.pdf_ruled_grid(60_000)))
    time.sleep(0.01)
    box.append(eml("mail-01-referral-complete"))
    for run in (1, 2):
        proc = subprocess.Popen(
            [*mailbot, "poll", "--once"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while _attempts(tmp_path) < run and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # well inside the PDF's reading
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert len(box.list_new()) == 2  # nothing handled, nothing lost
    status = subprocess.run([*mailbot, "status"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert status.returncode == 1 and "retried messages:   1" in status.stdout
    final = subprocess.run(
        [*mailbot, "poll", "--once"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert final.returncode == 0, final.stderr
    assert box.list_new() == []
    rows = json.loads(
        subprocess.run(
            [*mailbot, "messages", "--json"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert [r["action"] for r in rows] == ["quarantine", "accept"]
    assert "after 2 attempts (last: interrupted)" in rows[0]["reason"]


def _attempts(tmp_path: Path) -> int:
    """The attempts on record for the one message being tried (0 before the first)."""
    try:
        with sqlite3.connect(tmp_path / "var" / "mailbot.db", timeout=1) as db:
            return int(db.execute("SELECT max(attempts) FROM message_attempt").fetchone()[0] or 0)
    except sqlite3.Error:
        return 0


def test_a_sandbox_child_killed_mid_message_ends_in_one_action(tmp_path: Path, clock: FixedClock) -> None:
    """Someone (the kernel, an operator) kills the child reading a PDF: the message is
    answered as too complex, the next referral is handled, nothing is retried."""
    app = make_app(
        tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock, MAILBOT_SANDBOX_WALL_SECONDS="60"
    )
    app.mailbox.append(hostile.with_attachment("referral.pdf", hostile.pdf_ruled_grid(60_000)))
    time.sleep(0.01)
    app.mailbox.append(eml("mail-01-referral-complete"))
    killed: list[int] = []

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            worker = app.sandbox._worker
            if worker is not None and worker.jobs >= 2:  # the message, then its PDF
                time.sleep(0.5)
                os.kill(worker.pid, signal.SIGKILL)
                killed.append(worker.pid)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    poll(app)
    killer.join()
    assert killed
    rows = list(handled(app).values())
    assert [r["action"] for r in rows] == ["reject_attachment", "accept"]
    assert app.mailbox.list_new() == []
    assert Attempts(app.db, app.vault, app.clock).retried(timedelta(minutes=2)).messages == 0
    app.close()


def test_a_try_begun_longer_ago_than_any_can_take_counts_as_retried(
    tmp_path: Path, clock: FixedClock
) -> None:
    """The bot killed in its first try at a message, and not started again: ``status``
    must not say all is well."""
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock)
    app.mailbox.append(eml("mail-01-referral-complete"))
    (ref,) = app.mailbox.list_new()
    attempts = Attempts(app.db, app.vault, app.clock)
    assert attempts.begin(ref).number == 1
    assert attempts.retried(timedelta(minutes=2)).messages == 0  # perhaps still at work
    clock.advance(minutes=3)
    assert attempts.retried(timedelta(minutes=2)).messages == 1
    assert attempts.begin(ref).number == 2 and attempts.begin(ref).last_error == "interrupted"
    attempts.done(ref)
    assert attempts.retried(timedelta(minutes=2)).messages == 0
    app.close()
