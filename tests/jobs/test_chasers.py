"""One polite reminder after N working days waiting for information, then a flag to the team."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from helpers.bot import eml, make_app
from helpers.privacy import scan
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases.queue import flagged_refs
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.jobs.chasers import run_chasers
from mailbot.jobs.morning import morning_jobs
from mailbot.store.models import AuditEntry, Outbox

START = datetime(2026, 10, 12, 7, 30, tzinfo=UTC)  # Monday, 08:30 in London


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[App]:
    clock = FixedClock(START)
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock, MAILBOT_CHASER_DAYS="7")
    app.mailbox.append(eml("mail-02-referral-incomplete"))  # COC-2026-0001, waiting
    app.mailbox.append(eml("mail-01-referral-complete"))  # COC-2026-0002, ready
    Poller(app).cycle()
    yield app
    app.close()


def reminders(app: App) -> list[Outbox]:
    with app.db.session() as session:
        return list(session.scalars(select(Outbox).where(Outbox.kind == "reminder")))


def chase(app: App) -> tuple[list[str], list[str]]:
    with app.db.session() as session:
        result = run_chasers(app, session, app.clock.now())
    return result.reminded, result.flagged


def test_one_reminder_after_n_working_days_then_a_flag(bot: App) -> None:
    clock = bot.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=8, hours=15)  # Tuesday 20 October, late: six working days
    assert chase(bot) == ([], [])
    clock.advance(hours=9)  # Wednesday 21 October: the seventh working day
    assert chase(bot) == (["COC-2026-0001"], [])
    assert chase(bot) == ([], [])  # one reminder only
    clock.advance(days=8)  # Thursday 29 October: six working days after the reminder
    assert chase(bot) == ([], [])
    clock.advance(days=1)  # Friday 30 October
    assert chase(bot) == ([], ["COC-2026-0001"])
    assert chase(bot) == ([], [])
    assert len(reminders(bot)) == 1
    with bot.db.session() as session:
        assert flagged_refs(session) == {"COC-2026-0001"}
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"case.reminder_sent", "case.flagged"} <= actions


def test_the_reminder_is_polite_threaded_and_names_no_one(bot: App) -> None:
    bot.clock.advance(days=9)  # type: ignore[attr-defined]
    chase(bot)
    bot.drainer.drain()
    folder = Path(bot.settings.outbound_url[len("outbox:") :])
    parser = BytesParser(policy=policy.default)
    sent = [parser.parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]
    reminder = next(m for m in sent if "Reminder" in str(m["Subject"]))
    reply = next(m for m in sent if "COC-2026-0001" in str(m["Subject"]) and m is not reminder)
    assert str(reminder["Subject"]) == "[COC-2026-0001] Reminder: further information needed"
    assert str(reminder["To"]) == "tomasz.placeholderski@nhs-sample.example.net"
    assert str(reminder["In-Reply-To"]) == str(reply["Message-ID"])
    assert reminder["Auto-Submitted"] == "auto-generated"
    body = reminder.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Your Role" in body and "the child's Date of Birth" in body
    assert "only reminder" in body
    assert scan(reminder.as_bytes()) == []


def test_a_new_version_starts_a_new_wait(bot: App) -> None:
    clock = bot.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=9)
    assert chase(bot)[0] == ["COC-2026-0001"]
    clock.advance(days=2)
    bot.mailbox.append(eml("mail-03-followup-corrected-form"))
    Poller(bot).cycle()
    clock.advance(days=6)
    assert chase(bot) == ([], [])  # the follow-up answered; the case changed
    with bot.db.session() as session:
        assert flagged_refs(session) == set()


def test_morning_jobs_send_reminders_on_working_mornings_only(bot: App) -> None:
    clock = bot.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=5)  # Saturday 17 October
    assert morning_jobs(bot) is None
    clock.advance(days=2)  # Monday 19 October, 08:30 in London: five working days
    result = morning_jobs(bot)
    assert result is not None and result.chased.reminded == []
    clock.advance(days=2)  # Wednesday 21 October: seven working days
    result = morning_jobs(bot)
    assert result is not None and result.chased.reminded == ["COC-2026-0001"]
    assert morning_jobs(bot) is None  # once a day


def test_a_wait_over_christmas_counts_only_working_days(tmp_path: Path) -> None:
    """Waiting since Wednesday 23 December 2026: Christmas Day (Friday), the weekend, the
    substitute Boxing Day (Monday 28) and New Year's Day are not counted, and no morning
    job runs on a bank holiday."""
    clock = FixedClock(datetime(2026, 12, 23, 10, 0, tzinfo=UTC))
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock, MAILBOT_CHASER_DAYS="5")
    try:
        app.mailbox.append(eml("mail-02-referral-incomplete"))
        Poller(app).cycle()
        for day, working in ((24, True), (25, False), (28, False), (29, True), (30, True), (31, True)):
            clock._now = datetime(2026, 12, day, 9, 0, tzinfo=UTC)
            assert (morning_jobs(app) is not None) is working, day
        assert reminders(app) == []  # 24, 29, 30, 31: four working days
        clock._now = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # New Year's Day
        assert morning_jobs(app) is None
        clock._now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # Monday: the fifth
        result = morning_jobs(app)
        assert result is not None and result.chased.reminded == ["COC-2026-0001"]
    finally:
        app.close()
