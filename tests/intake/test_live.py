"""The bot against real servers on loopback: a private Dovecot and an aiosmtpd relay."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from email.parser import BytesParser
from pathlib import Path

import pytest
from helpers.bot import eml, make_app, make_env, run_two_workers, simple_referral
from helpers.pipeline import handled

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller


def live_app(tmp_path: Path, clock: FixedClock, dovecot, smtp, folder: str = "INBOX") -> App:  # type: ignore[no-untyped-def]
    return make_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
        clock,
        MAILBOT_MAILBOX_URL=dovecot.url("imap", folder),
        MAILBOT_MAILBOX_PASSWORD=dovecot.password,
        MAILBOT_OUTBOUND_URL=smtp.url("smtp"),
    )


def append(dovecot, *messages: bytes, folder: str = "INBOX") -> None:  # type: ignore[no-untyped-def]
    with dovecot.client() as client:
        for raw in messages:
            client.append(folder, raw)


def reply_ids(smtp) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(BytesParser().parsebytes(r.data)["In-Reply-To"]) for r in smtp.handler.received]


def replies(smtp) -> list[str]:  # type: ignore[no-untyped-def]
    """The replies to referrers among what the server received (not the team's mail)."""
    return [i for i in reply_ids(smtp) if i != "None"]


def test_message_appended_while_idling_is_acknowledged(
    tmp_path: Path, clock: FixedClock, dovecot_account, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    app = live_app(tmp_path, clock, dovecot_account, smtp_server)
    poller = Poller(app, wait_slice=1.0)
    worker = threading.Thread(target=poller.run_forever, kwargs={"install_signals": False})
    worker.start()
    try:
        time.sleep(1.0)  # let it settle into IDLE
        started = time.monotonic()
        append(dovecot_account, eml("mail-01-referral-complete"))
        # The morning's team digest may go out first: wait for the reply itself.
        while not replies(smtp_server) and time.monotonic() - started < 20:
            time.sleep(0.02)
        latency = time.monotonic() - started
    finally:
        poller.stop()
        worker.join(timeout=30)
    print(f"\nAPPEND -> reply at the SMTP server: {latency:.2f} s")
    assert len(replies(smtp_server)) == 1
    assert latency < 5.0
    assert not worker.is_alive()


def test_connection_killed_mid_run_loses_and_doubles_nothing(
    tmp_path: Path, clock: FixedClock, dovecot_account, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    app = live_app(tmp_path, clock, dovecot_account, smtp_server)
    append(dovecot_account, *(simple_referral(n, "live") for n in range(20)))
    mailbox = app.mailbox
    original_fetch = mailbox.fetch
    fetched = {"n": 0}

    def fetch_and_kick(ref):  # type: ignore[no-untyped-def]
        fetched["n"] += 1
        if fetched["n"] in (5, 12):  # the server drops us twice mid-run
            subprocess.run(
                ["doveadm", "-c", str(dovecot_account.root / "dovecot.conf"), "kick", dovecot_account.user],
                check=False,
                capture_output=True,
            )
        return original_fetch(ref)

    mailbox.fetch = fetch_and_kick  # type: ignore[method-assign]
    Poller(app).cycle()
    Poller(app).cycle()  # anything a drop left behind
    assert len(handled(app)) == 20
    assert sorted(reply_ids(smtp_server)) == sorted(f"<live-{n}@school.example.org>" for n in range(20))
    assert app.mailbox.list_new() == []


def test_relay_refuses_for_a_while_then_every_reply_arrives_once(
    tmp_path: Path, clock: FixedClock, dovecot_account, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    app = live_app(tmp_path, clock, dovecot_account, smtp_server)
    smtp_server.handler.fail_next(451, 4)
    append(dovecot_account, *(simple_referral(n, "live") for n in range(3)))
    for _ in range(8):
        Poller(app).cycle()
        clock.advance(hours=1)
    ids = reply_ids(smtp_server)
    assert sorted(ids) == sorted(f"<live-{n}@school.example.org>" for n in range(3))
    with app.db.session() as session:
        from sqlalchemy import select

        from mailbot.store.models import Outbox

        rows = session.scalars(select(Outbox)).all()
        assert {r.state for r in rows} == {"sent"}
        assert sum(r.attempts for r in rows) == 3 + 4


def test_permanent_refusal_is_marked_for_the_team(
    tmp_path: Path, clock: FixedClock, dovecot_account, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    app = live_app(tmp_path, clock, dovecot_account, smtp_server)
    smtp_server.handler.fail_next(550, 1)
    append(dovecot_account, simple_referral(1, "live"))
    Poller(app).cycle()
    clock.advance(hours=2)
    Poller(app).cycle()
    assert smtp_server.handler.received == []
    with app.db.session() as session:
        from sqlalchemy import select

        from mailbot.store.models import Outbox

        (row,) = session.scalars(select(Outbox)).all()
        assert row.state == "failed" and row.attempts == 1
        assert "@" not in (row.last_error or "")
    from mailbot.cases.queue import queue  # the failure is what a person must see next

    with app.db.session() as session:
        (item,) = queue(session, app.vault, app.clock.now())
    assert item.reply_failed and item.waiting_for.startswith("team: a reply could not")


def test_uidvalidity_change_handles_nothing_twice(
    tmp_path: Path, clock: FixedClock, dovecot_account, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    with dovecot_account.client() as client:
        client.create_folder("Referrals")
    messages = [simple_referral(n, "uv") for n in range(3)]
    append(dovecot_account, *messages, folder="Referrals")
    app = live_app(tmp_path, clock, dovecot_account, smtp_server, folder="Referrals")
    Poller(app).cycle()
    assert len(handled(app)) == 3
    # The folder is deleted and recreated with the same messages: new UIDVALIDITY, new UIDs.
    with dovecot_account.client() as client:
        client.delete_folder("Referrals")
        client.create_folder("Referrals")
    append(dovecot_account, *messages, folder="Referrals")
    app.close()
    app = live_app(tmp_path, clock, dovecot_account, smtp_server, folder="Referrals")
    Poller(app).cycle()
    assert len(handled(app)) == 3
    assert len(smtp_server.handler.received) == 3
    assert app.mailbox.list_new() == []


@pytest.mark.slow
def test_two_workers_on_postgresql_and_one_imap_mailbox(
    tmp_path: Path, pg_url: str, dovecot_account, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    total = 200
    append(dovecot_account, *(simple_referral(n, "pg") for n in range(total)))
    env = {
        **os.environ,
        **make_env(
            tmp_path,
            pg_url,
            MAILBOT_MAILBOX_URL=dovecot_account.url("imap"),
            MAILBOT_MAILBOX_PASSWORD=dovecot_account.password,
            MAILBOT_OUTBOUND_URL=smtp_server.url("smtp"),
            MAILBOT_LOG_LEVEL="WARNING",
        ),
    }
    _summaries, rows = run_two_workers(tmp_path, env)
    assert len(rows) == total
    ids = reply_ids(smtp_server)
    assert len(ids) == total and len(set(ids)) == total
    with dovecot_account.client() as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
