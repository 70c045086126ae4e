"""Issue 12 part 1: the referral's own copy of the outcome section is never the SPRG's
decision.

A referrer may fill in the form's outcome section (mail-06 arrives with it filled in,
from a sender who is not a team sender). Before the fix that copy was shown on the case
page and printed in the agenda pack's outcome table as if the SPRG had decided it, and
``cases_of_meeting`` (the meetings page's and the pack's source) carried it. Now only a
recorded decision fills the outcome section anywhere; with none recorded it is blank.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import docx
import pytest
from flask.testing import FlaskClient
from helpers.sprg import DEC, deliver_and_poll, run, sprg_app
from helpers.workspace import sign_in, web_app

from mailbot.app import App
from mailbot.cases import views
from mailbot.clock import FixedClock
from mailbot.sprg import scheduling
from mailbot.web import users

#: Words from mail-06's outcome section, as its referrer filled it in.
REFERRERS_WORDS = (
    "Near miss: serious injury",
    "practitioner reflective session",
    "Dr Imogen Fairweather-Test",
    "DS A. Testperson",
    "a single agency review would not capture it",
)
RECORDED = [
    "--single",
    "Y",
    "--single-grounds",
    "Recorded grounds from the meeting.",
    "--multi",
    "N",
    "--chair",
    "Chair at the meeting",
]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 10, 9, 15, tzinfo=UTC))


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = sprg_app(tmp_path, clock)
    deliver_and_poll(app, "mail-06-sprg-outcome")  # COC-2026-0001, on the December agenda
    with app.db.session() as session:
        users.add_user(session, "tess.team", "team", "correct horse battery", clock.now())
    yield app
    app.close()


@pytest.fixture
def team(bot: App) -> FlaskClient:
    client = web_app(bot).test_client()
    sign_in(client, "tess.team")
    return client


def decide(bot: App, clock: FixedClock) -> None:
    clock.advance(days=38)  # 18 December 2026: the meeting has happened
    assert run(bot, "outcome", "COC-2026-0001", *RECORDED) == 0


def pack_text(bot: App, tmp_path: Path) -> str:
    out = tmp_path / "pack"
    assert run(bot, "agenda", "--meeting", DEC.isoformat(), "--out", str(out)) == 0
    document = docx.Document(str(out / "agenda.docx"))
    parts = [p.text for p in document.paragraphs]
    parts += [c.text for t in document.tables for r in t.rows for c in r.cells]
    return "\n".join(parts)


def test_show_and_the_case_page_have_no_decision_until_one_is_recorded(
    bot: App, team: FlaskClient, clock: FixedClock
) -> None:
    with bot.db.session() as session:
        shown = views.show(session, bot.vault, "COC-2026-0001", from_address="x@example.org")
    assert shown.referral["outcome"]["single_agency"] == {"decision": None, "agencies": None, "grounds": None}
    assert shown.referral["sprg"] == {"meeting_date": None, "chair": None}
    assert shown.referral["child"]["full_name"] == "Leo Testcase"  # the rest is the form's
    page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "Outcome (completed by the SPRG)" in page
    for words in REFERRERS_WORDS:
        assert words not in page
    decide(bot, clock)
    sign_in(team, "tess.team")  # 38 days on: signed out for being idle
    page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "Recorded grounds from the meeting." in page and "Chair at the meeting" in page
    for words in REFERRERS_WORDS:
        assert words not in page


def test_the_meetings_page_and_its_cases_show_only_a_recorded_decision(
    bot: App, team: FlaskClient, clock: FixedClock
) -> None:
    with bot.db.session() as session:
        [case] = scheduling.cases_of_meeting(session, bot.vault, DEC)
    assert case.referral["outcome"]["multi_agency"]["decision"] is None  # the referrer's: Y
    assert "Not yet decided" in team.get("/meetings").get_data(as_text=True)
    decide(bot, clock)
    sign_in(team, "tess.team")
    page = team.get("/meetings").get_data(as_text=True)
    assert "Single agency: Yes; multi-agency: No" in page


def test_the_agenda_pack_prints_only_a_recorded_decision(bot: App, tmp_path: Path, clock: FixedClock) -> None:
    text = pack_text(bot, tmp_path)
    assert "Leo Testcase" in text and "Date for final report at SPRG" in text
    for words in REFERRERS_WORDS:
        assert words not in text
    assert "18/03/2027" not in text  # the referrer's "final report" date
    decide(bot, clock)
    text = pack_text(bot, tmp_path)
    assert "Recorded grounds from the meeting." in text
    for words in REFERRERS_WORDS:
        assert words not in text
