"""Action plans in the workspace: added on the case page (told the text goes outside),
settled there, listed on the Actions page by agency and overdue."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from helpers.sprg import run
from helpers.workspace import post

from mailbot.app import App
from mailbot.clock import FixedClock


@pytest.fixture
def bot(seeded_bot: App) -> App:
    # The seeded meeting (29/10/2026) is still to come: forced, as this is about actions.
    assert run(seeded_bot, "outcome", "COC-2026-0001", "--multi", "Y", "--force") == 0
    return seeded_bot


@pytest.mark.both_databases
def test_add_settle_and_list(team: FlaskClient, bot: App, clock: FixedClock) -> None:
    page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "Action plan" in page and "Do not name the child" in page
    for text, agency, due in (
        ("Review the school's attendance procedure", "Example School", "2026-10-14"),
        ("Brief health visitors on the learning", "Example Health Trust", "2026-11-30"),
    ):
        response = post(
            team,
            "/cases/COC-2026-0001/actions",
            {
                "text": text,
                "agency": agency,
                "owner": "Head teacher",
                "email": "head@school.example.org",
                "due": due,
            },
            page="/cases/COC-2026-0001",
        )
        assert response.status_code == 302
    clock.advance(days=3)  # Thursday 15 October: the school's action is overdue
    from helpers.workspace import sign_in

    sign_in(team, "tess.team")
    listing = team.get("/actions?overdue=yes").get_data(as_text=True)
    assert "Review the school" in listing and "Brief health visitors" not in listing
    listing = team.get("/actions?agency=Example+Health+Trust").get_data(as_text=True)
    assert "Brief health visitors" in listing and "Review the school" not in listing
    page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert page.count("Record as done") == 2
    action_id = page.split("/actions/")[1].split("/")[0]
    post(team, f"/actions/{action_id}/done", {"evidence": "Procedure updated"}, page="/cases/COC-2026-0001")
    page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert page.count("Record as done") == 1 and "Procedure updated" in page


@pytest.mark.both_databases
def test_an_incomplete_action_is_refused(team: FlaskClient, bot: App) -> None:
    response = post(
        team,
        "/cases/COC-2026-0001/actions",
        {"text": " ", "agency": "A", "owner": "B", "due": "2026-11-30"},
        page="/cases/COC-2026-0001",
    )
    page = team.get(response.headers["Location"]).get_data(as_text=True)
    assert "The action was not added" in page
