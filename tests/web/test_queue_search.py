"""Searching the queue from the workspace and the command line (audited, never the words)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from helpers.bot import make_env
from sqlalchemy import select

from mailbot.app import App
from mailbot.cli.main import main
from mailbot.store.models import AuditEntry


@pytest.mark.both_databases
def test_search_in_the_queue(team: FlaskClient, seeded_bot: App) -> None:
    page = team.get("/queue?q=Am%C3%A9lia").get_data(as_text=True)
    table = page.split("<tbody>")[1]
    assert "COC-2026-0001" in table and "COC-2026-0002" not in table
    assert '1 case found for "Amélia"' in page
    assert 'value="Amélia"' in page  # the box keeps the words
    dob = team.get("/queue?q=03/03/2015").get_data(as_text=True)
    assert "COC-2026-0001" in dob.split("<tbody>")[1]
    none = team.get("/queue?q=Nobody+Known").get_data(as_text=True)
    assert 'No case matches "Nobody Known"' in none
    # A status filter still applies to a search.
    filtered = team.get("/queue?q=amelia&status=awaiting_information").get_data(as_text=True)
    assert "<tbody>" not in filtered
    with seeded_bot.db.session() as session:
        details = list(
            session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "cases.searched"))
        )
    assert details[:2] == ["1 found", "1 found"]
    assert not any("amelia" in d.lower() or "2015" in d for d in details)


@pytest.mark.both_databases
def test_cases_search_on_the_command_line(
    seeded_bot: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, str(seeded_bot.settings.database_url)).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    assert main(["cases", "--search", "exampleby", "--json"]) == 0
    assert [c["ref"] for c in json.loads(capsys.readouterr().out)] == ["COC-2026-0001"]
    assert main(["cases", "--search", "nhs-sample", "--status", "waiting for referrer"]) == 0
    out = capsys.readouterr().out
    assert "COC-2026-0002" in out and "COC-2026-0005" in out and "COC-2026-0001" not in out
