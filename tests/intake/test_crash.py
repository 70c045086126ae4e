"""Killed mid-way: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.bot import eml, make_app, make_env, simple_referral
from helpers.pipeline import handled, outbox_messages, poll

from mailbot.app import build_app
from mailbot.cases import queue as case_queue
from mailbot.clock import FixedClock
from mailbot.mail.mailbox import MailboxRef
from mailbot.mail.maildir import MaildirMailbox
from mailbot.settings import load_settings


class MoveFails(MaildirMailbox):
    """A mailbox that dies between the database commit and the move."""

    def move(self, ref: MailboxRef, folder: str) -> None:
        raise KeyboardInterrupt("killed after the commit, before the move")

    def move_many(self, moves: object) -> None:
        raise KeyboardInterrupt("killed after the commit, before the moves")


def test_crash_between_commit_and_move_only_redoes_the_move(tmp_path: Path, clock: FixedClock) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    settings = load_settings(env=make_env(tmp_path, url), base_dir=tmp_path)
    crashing = build_app(settings, clock=clock, mailbox=MoveFails(tmp_path / "var" / "inbox"))
    crashing.prepare()
    crashing.mailbox.append(eml("mail-01-referral-complete"))
    with pytest.raises(KeyboardInterrupt):
        poll(crashing)
    crashing.close()

    app = make_app(tmp_path, url, clock)
    assert len(app.mailbox.list_new()) == 1  # still in the inbox: nothing lost
    poll(app)
    assert app.mailbox.list_new() == []
    rows = handled(app)
    assert len(rows) == 1 and next(iter(rows.values()))["action"] == "accept"
    assert len(outbox_messages(app)) == 1
    with app.db.session() as session:
        assert len([i.as_json() for i in case_queue.queue(session, app.vault, app.clock.now())]) == 1


def test_crash_before_commit_repeats_the_work(tmp_path: Path, clock: FixedClock) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    app = make_app(tmp_path, url, clock)
    app.mailbox.append(eml("mail-02-referral-incomplete"))
    original = app.intake.apply

    def dies(*args: object) -> list[str]:
        original(*args)  # type: ignore[arg-type]
        raise KeyboardInterrupt("killed inside the transaction")

    app.intake.apply = dies  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        poll(app)
    assert len(app.mailbox.list_new()) == 1  # nothing committed, nothing moved
    assert handled(app) == {}
    app.intake.apply = original  # type: ignore[method-assign]
    poll(app)
    assert len(handled(app)) == 1
    assert app.mailbox.list_new() == []
    assert len(outbox_messages(app)) == 1


@pytest.mark.slow
def test_sigkill_mid_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    env = {**os.environ, **make_env(tmp_path, url)}
    box = MaildirMailbox(tmp_path / "var" / "inbox")
    total = 60
    for n in range(total):
        box.append(simple_referral(n, "kill"))
    subprocess.run(
        [sys.executable, "-m", "mailbot", "init"], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailbot", "poll", "--once"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while len(box.list_new()) > total - 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = len(box.list_new())
    assert 0 < left < total, "the kill should land mid-run"
    subprocess.run(
        [sys.executable, "-m", "mailbot", "poll", "--once"],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    assert box.list_new() == []
    out = subprocess.run(
        [sys.executable, "-m", "mailbot", "messages", "--json"],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    import json

    rows = json.loads(out)
    assert len(rows) == total
    assert len({r["message_id"] for r in rows}) == total
    replies = list((tmp_path / "var" / "outbox").glob("*.eml"))
    assert len(replies) == total


def test_a_message_the_core_cannot_handle_is_held_not_retried_forever(
    tmp_path: Path, clock: FixedClock
) -> None:
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock)
    app.mailbox.append(eml("mail-01-referral-complete"))
    original = app.intake.apply

    def bug(session, msg, row, outcome, now):  # type: ignore[no-untyped-def]
        if outcome.action != "quarantine":
            raise ZeroDivisionError("a bug in the core")
        return original(session, msg, row, outcome, now)

    app.intake.apply = bug  # type: ignore[method-assign]
    poll(app)
    assert app.mailbox.list_new() == []
    (row,) = handled(app).values()
    assert row["action"] == "quarantine" and "ZeroDivisionError" in row["reason"]
    alerts = [m for m in outbox_messages(app) if str(m["To"]) == "cscp-team@example.org"]
    assert len(alerts) == 1


def test_an_impossible_date_header_does_not_stop_the_message(tmp_path: Path, clock: FixedClock) -> None:
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock)
    raw = eml("mail-01-referral-complete").replace(
        b"Date: Mon, 05 Oct 2026 09:12:33 +0100", b"Date: Fri, 31 Dec 9999 23:00:00 -1200"
    )
    app.mailbox.append(raw)
    poll(app)
    assert app.mailbox.list_new() == []
    (row,) = handled(app).values()
    assert row["action"] == "accept"
