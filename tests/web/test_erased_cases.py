"""An erased case in the workspace: its page says it was destroyed; the queue, export
and trends carry on without it."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from mailbot.app import App
from mailbot.records.purge import erase

REF = "COC-2026-0001"


@pytest.mark.both_databases
def test_an_erased_case_is_gone_from_every_page(team: FlaskClient, seeded_bot: App) -> None:
    assert REF in team.get("/queue").get_data(as_text=True)
    assert team.get(f"/cases/{REF}").status_code == 200
    erase(seeded_bot, REF, reason="request upheld", actor="dpo")
    page = team.get(f"/cases/{REF}")
    assert page.status_code == 404 and "destroyed" in page.get_data(as_text=True)
    assert REF not in team.get("/queue").get_data(as_text=True)
    assert "COC-2026-0002" in team.get("/queue").get_data(as_text=True)
    assert REF not in team.get("/export.csv").get_data(as_text=True)
    assert team.get("/trends").status_code == 200
