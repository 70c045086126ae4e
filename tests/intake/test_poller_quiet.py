"""A cycle with nothing to do costs no database write (issue 18, benchmark 3): the reply
latency of ``mailbot poll`` pays for every statement a cycle makes before it waits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.bot import eml, make_app
from sqlalchemy import event

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.store.models import PollState

TUESDAY_MORNING = datetime(2026, 10, 13, 9, 30, tzinfo=UTC)  # 10:30 in London, after the digest hour
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[App]:
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", FixedClock(TUESDAY_MORNING))
    try:
        yield app
    finally:
        app.close()


def statements(app: App) -> list[str]:
    """Every SQL statement the app's engine runs from now on (a live list)."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(app.db.engine, "before_cursor_execute", record)
    return seen


def test_an_idle_cycle_writes_nothing_and_last_poll_is_kept_fresh(bot: App) -> None:
    poller = Poller(bot)
    poller.cycle(daily=True)  # the morning's jobs run once and last_poll is written
    seen = statements(bot)
    bot.clock.advance(seconds=5)  # type: ignore[attr-defined]
    poller.cycle(daily=True)
    assert [s for s in seen if s in WRITES] == []
    assert "SELECT" in seen  # the outbox and the SPRG chores still look
    bot.clock.advance(seconds=30)  # type: ignore[attr-defined]
    poller.cycle(daily=True)
    assert [s for s in seen if s in WRITES] == ["UPDATE"]  # last_poll, twice a minute at most
    with bot.db.session() as session:
        row = session.get(PollState, "last_poll")
        assert row is not None and row.value == bot.clock.now().isoformat()


def test_the_morning_done_today_is_not_looked_up_again(bot: App) -> None:
    from mailbot.jobs.morning import morning_jobs

    assert morning_jobs(bot) is not None
    seen = statements(bot)
    assert morning_jobs(bot) is None
    assert seen == []  # no session, no statement: known done for today
    bot.clock.advance(days=1)  # type: ignore[attr-defined]
    assert morning_jobs(bot) is not None  # Wednesday: due again
    assert any(s in WRITES for s in seen)


def test_replies_are_sent_in_the_cycle_that_stored_them(bot: App) -> None:
    bot.mailbox.append(eml("mail-01-referral-complete"))
    result = Poller(bot).cycle(daily=True)
    assert len(result.handled) == 1
    assert result.drained.sent >= 1  # the reply went out before the cycle's chores ended
