"""The meetings page and the case page agree with the calendar, even with none set up."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from helpers.workspace import post, seeded_app, sign_in, web_app

from mailbot.cases.queue import QueueItem, filtered
from mailbot.cases.status import CaseStatus
from mailbot.clock import FixedClock


def item(ref: str, days: int, received: datetime) -> QueueItem:
    return QueueItem(
        ref=ref,
        status=CaseStatus.READY,
        referrer_email=None,
        referring_agency=None,
        received_at=received,
        missing_required=[],
        queries=[],
        themes=[],
        meeting_date=None,
        waiting_for="",
        possible_duplicates=[],
        days_waiting=days,
    )


def test_waiting_longest_first_breaks_ties_oldest_first() -> None:
    t = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)
    items = [
        item("C-new", 3, t + timedelta(hours=2)),
        item("C-old", 3, t),
        item("C-long", 9, t + timedelta(hours=5)),
        item("C-short", 1, t),
    ]
    assert [i.ref for i in filtered(items, sort="oldest")] == ["C-long", "C-old", "C-new", "C-short"]
    assert [i.ref for i in filtered(items, sort="newest")] == ["C-short", "C-new", "C-old", "C-long"]


def test_with_no_calendar_the_team_adds_a_date_and_schedules(tmp_path: Path, clock: FixedClock) -> None:
    bot = seeded_app(tmp_path, clock, MAILBOT_SPRG_MEETINGS="", MAILBOT_SPRG_MEMBERS="")
    try:
        team = web_app(bot).test_client()
        sign_in(team, "tess.team")
        page = html.unescape(team.get("/meetings").get_data(as_text=True))
        assert "No meeting dates are set up yet" in page and "Meetings: no meetings" not in page
        assert "Add a meeting date" in page
        case = html.unescape(team.get("/cases/COC-2026-0001").get_data(as_text=True))
        assert "No SPRG meetings are set up" not in case
        assert "no meeting: hold it back" in case and "Add a meeting date" in case
        day = date(2026, 11, 19)
        response = post(
            team,
            "/meetings/extraordinary",
            {"date": day.isoformat(), "case": "COC-2026-0001"},
            page="/meetings",
        )
        assert response.status_code == 302
        page = html.unescape(team.get("/meetings").get_data(as_text=True))
        assert "Meetings: added by the team: 19/11/2026." in page
        assert "Meeting on Thursday 19/11/2026" in page and "Not in the calendar" not in page
        # No SPRG members: the digest button says why it cannot be used.
        assert "The digest cannot be sent: no SPRG members are set up" in page
        assert "disabled" in page.split("Meeting on Thursday 19/11/2026")[1]
        case = html.unescape(team.get("/cases/COC-2026-0001").get_data(as_text=True))
        assert "the meeting on 19/11/2026</option>" in case
        assert "not in the SPRG calendar" not in case
    finally:
        bot.close()
