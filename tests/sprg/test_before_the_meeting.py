"""Issue 12 part 5: nothing about a decision goes out before the meeting that makes it.

Reproduced before the fix: ``mailbot outcome`` on 10/11/2026 for a case on the agenda of
17/12/2026 recorded the decision and told the referrer at once; an emailed outcome for a
meeting still to come was recorded and announced the same way; and the team's
final-report reminder went out for such a decision. Now each waits for the meeting, and
a person who means it says so (``--force``, or the workspace's tick box).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from helpers.bot import eml
from helpers.pipeline import outbox_messages
from helpers.sprg import DEC, FIRST, deliver_and_poll, on_day, run, sprg_app
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import views
from mailbot.clock import FixedClock
from mailbot.errors import UsageError
from mailbot.intake.poller import Poller
from mailbot.intake.release import release
from mailbot.store.models import Case, Decision

TEAM_SENDER = "sprg-support@cscp-partners.example.org"  # mail-06's sender (authenticated)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 10, 9, 15, tzinfo=UTC))


@pytest.fixture
def meeting(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = sprg_app(tmp_path, clock)
    deliver_and_poll(app, *FIRST[:1])  # COC-2026-0001, on the agenda of 17/12/2026
    yield app
    app.close()


def told(app: App) -> list[str]:
    return [
        str(m["Subject"])
        for m in outbox_messages(app)
        if str(m["Subject"]).endswith(("SPRG decision", "SPRG decision recorded"))
        or "Final report due" in str(m["Subject"])
    ]


def decided(app: App) -> tuple[str, int]:
    with app.db.session() as session:
        case = session.scalars(select(Case).where(Case.ref == "COC-2026-0001")).one()
        return case.status, len(session.scalars(select(Decision)).all())


def test_outcome_before_the_meeting_needs_force(meeting: App, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="meeting of 17/12/2026 has not happened yet"):
        run(meeting, "outcome", "COC-2026-0001", "--single", "Y", "--multi", "N")
    meeting.drainer.drain()
    assert decided(meeting) == ("scheduled", 0) and told(meeting) == []
    assert run(meeting, "outcome", "COC-2026-0001", "--single", "Y", "--multi", "N", "--force") == 0
    assert "warning: recorded before the meeting of 17/12/2026" in capsys.readouterr().err
    assert decided(meeting) == ("decided", 1)
    assert told(meeting) == ["[COC-2026-0001] SPRG decision"]


def test_an_amendment_tells_nobody_so_needs_no_force(meeting: App, clock: FixedClock) -> None:
    run(meeting, "outcome", "COC-2026-0001", "--single", "Y", "--force")
    assert run(meeting, "outcome", "COC-2026-0001", "--methodology", "Review") == 0


def test_no_final_report_reminder_before_the_meeting(meeting: App, clock: FixedClock) -> None:
    run(meeting, "outcome", "COC-2026-0001", "--multi", "Y", "--final-report-date", "2026-11-20", "--force")
    Poller(meeting).cycle()
    Poller(meeting).cycle()
    assert [s for s in told(meeting) if "Final report" in s] == []
    on_day(clock, DEC, 9)  # the meeting's morning: it has happened by the end of the day
    Poller(meeting).cycle()
    assert [s for s in told(meeting) if "Final report" in s] == [
        "[COC-2026-0001] Final report due at the SPRG on 20/11/2026"
    ]


def test_an_emailed_outcome_before_its_meeting_is_held(tmp_path: Path, clock: FixedClock) -> None:
    outside = sprg_app(tmp_path, clock)
    deliver_and_poll(outside, "mail-06-sprg-outcome")  # the case about Leo, from its referrer
    outside.close()
    team = sprg_app(tmp_path, clock, MAILBOT_TEAM_SENDERS=TEAM_SENDER)
    try:
        raw = re.sub(
            rb"(?mi)^Message-ID:.*\r?\n .*$",
            b"Message-ID: <outcome-early@cscp-partners.example.org>",
            eml("mail-06-sprg-outcome"),
            count=1,
        )
        team.mailbox.append(raw)  # the form says the meeting of 19/11/2026; it is 10/11
        Poller(team).cycle()
        with team.db.session() as session:
            [held] = views.quarantine(session, team.vault)
        assert "has not happened yet" in held.reason and held.linked_ref == "COC-2026-0001"
        assert decided(team)[1] == 0 and told(team) == []
        with pytest.raises(UsageError, match="has not happened yet"):
            release(team, held.id, actor="tess.team")
        assert decided(team)[1] == 0
        assert release(team, held.id, actor="tess.team", force=True).decision
        team.drainer.drain()
        assert decided(team) == ("decided", 1)
        assert "[COC-2026-0001] SPRG decision" in told(team)
    finally:
        team.close()


def test_on_the_day_of_the_meeting_it_is_recorded(meeting: App, clock: FixedClock) -> None:
    on_day(clock, date(2026, 12, 17), 9)
    assert run(meeting, "outcome", "COC-2026-0001", "--single", "Y") == 0
