"""The mailbox copy of a handled message is deleted after ``retention.mailbox_days``,
only once its encrypted copy is in the database, on Maildir, IMAP (Dovecot) and Graph."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.bot import eml, make_env
from helpers.fake_graph import graph_mailbox_parts
from sqlalchemy import select

from mailbot.app import App, build_app
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.mail.mailbox import OTHER, PROCESSED, QUARANTINE
from mailbot.records.mailbox_copies import expire_copies
from mailbot.records.purge import erase, purge
from mailbot.settings import load_settings
from mailbot.store.models import Case, InboundMessage

MESSAGE_ID = b"Message-ID"


@pytest.fixture(params=["maildir", pytest.param("imap", marks=pytest.mark.dovecot), "graph"])
def bot(request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, clock: FixedClock) -> Iterator[App]:
    extra: dict[str, str] = {}
    mailbox = None
    if request.param == "imap":
        server = request.getfixturevalue("dovecot_account")
        extra = {"MAILBOT_MAILBOX_URL": server.url("imap"), "MAILBOT_MAILBOX_PASSWORD": server.password}
    elif request.param == "graph":
        mailbox, _other, _contents = graph_mailbox_parts(
            request.getfixturevalue("fake_graph"), request.getfixturevalue("token_endpoint")
        )
    settings = load_settings(env=make_env(tmp_path, sqlite_url, **extra), base_dir=tmp_path)
    app = build_app(settings, clock=clock, mailbox=mailbox)
    app.prepare()
    yield app
    app.close()


def _filed(app: App) -> list[bytes]:
    return sorted(
        app.mailbox.fetch(s.ref) for f in (PROCESSED, OTHER, QUARANTINE) for s in app.mailbox.list_folder(f)
    )


def test_copies_go_after_mailbox_days_and_unknown_mail_stays(bot: App, clock: FixedClock) -> None:
    for name in ("mail-01-referral-complete", "mail-19-mailing-list", "mail-17-dmarc-fail"):
        bot.mailbox.append(eml(name))
    Poller(bot).cycle()
    stranger = b"From: a@b.example\r\nSubject: filed by a person\r\nMessage-ID: <p1@b>\r\n\r\nhi\r\n"
    bot.mailbox.append(stranger, OTHER)
    assert len(_filed(bot)) == 4
    clock.advance(days=bot.settings.retention_mailbox_days - 1)
    assert expire_copies(bot, clock.now()).deleted == 0
    clock.advance(days=120)  # past the mailbox's own arrival dates too (real time)
    report = expire_copies(bot, clock.now())
    # The held message waits for a person; the one the bot never stored is left alone.
    assert (report.deleted, report.kept_unknown) == (2, 1)
    assert _filed(bot) == sorted([eml("mail-17-dmarc-fail"), stranger])
    with bot.db.session() as session:
        held = session.scalars(select(InboundMessage).where(InboundMessage.action == "quarantine")).one()
        held.hold_state = "rejected"
    assert expire_copies(bot, clock.now()).deleted == 1
    assert _filed(bot) == [stranger]
    with bot.db.session() as session:  # the encrypted copies are all still kept
        assert len(session.scalars(select(InboundMessage)).all()) == 3


def test_erasing_a_case_removes_its_mailbox_copy_at_once(bot: App) -> None:
    bot.mailbox.append(eml("mail-01-referral-complete"))
    bot.mailbox.append(eml("mail-04-handtyped-dates"))
    Poller(bot).cycle()
    with bot.db.session() as session:
        first, _second = sorted(session.scalars(select(Case.ref)))
    erase(bot, first, reason="request upheld", actor="dpo")
    assert _filed(bot) == [eml("mail-04-handtyped-dates")]
    assert not [raw for raw in _filed(bot) if eml("mail-01-referral-complete") == raw]
    assert purge(bot).mailbox_deleted == 0
