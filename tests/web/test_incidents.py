"""Serious incidents in the workspace: the flag button, the clocks, an extraordinary meeting."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from helpers.workspace import post
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import views
from mailbot.store.models import AuditEntry, Outbox


@pytest.fixture
def bot(seeded_bot: App) -> App:
    return seeded_bot


def shown(bot: App, ref: str) -> dict:
    with bot.db.session() as session:
        return views.show(session, bot.vault, ref, from_address=bot.settings.mail_from).as_json()


@pytest.mark.both_databases
def test_flag_record_dates_and_clear(team: FlaskClient, bot: App) -> None:
    page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "Flag as a serious incident" in page
    response = post(
        team,
        "/cases/COC-2026-0001/serious",
        {"state": "on", "why": "Serious harm reported", "aware": "2026-10-09"},
        page="/cases/COC-2026-0001",
    )
    assert response.status_code == 302
    item = shown(bot, "COC-2026-0001")
    assert item["serious_incident"] is True
    # Aware Friday 9 October 2026: five working days is Friday 16 October.
    assert item["clocks"][0] == {"name": "panel_notification", "due": "2026-10-16", "done": None}
    with bot.db.session() as session:
        alert = session.scalars(select(Outbox).where(Outbox.subject.like("%Serious incident%"))).one()
        assert alert.case_refs == ["COC-2026-0001"] and alert.kind == "alert"
        who = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "case.serious_incident")
        ).one()
        assert who == "tess.team"
    page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "Serious incident" in page and "16/10/2026" in page
    post(
        team,
        "/cases/COC-2026-0001/clock",
        {"what": "panel_notified", "date": "2026-10-12"},
        page="/cases/COC-2026-0001",
    )
    assert shown(bot, "COC-2026-0001")["clocks"][0]["done"] == "2026-10-12"
    response = post(
        team,
        "/cases/COC-2026-0001/clock",
        {"what": "rapid_review_sent", "date": "2026-12-01"},
        page="/cases/COC-2026-0001",
    )
    follow = team.get(response.headers["Location"]).get_data(as_text=True)
    assert "The date was not recorded" in follow and "in the future" in follow
    post(
        team,
        "/cases/COC-2026-0001/serious",
        {"state": "off", "why": "Not serious after all"},
        page="/cases/COC-2026-0001",
    )
    assert shown(bot, "COC-2026-0001")["serious_incident"] is False


def test_the_flag_needs_a_reason(team: FlaskClient, bot: App) -> None:
    response = post(
        team, "/cases/COC-2026-0001/serious", {"state": "on", "why": " "}, page="/cases/COC-2026-0001"
    )
    follow = team.get(response.headers["Location"]).get_data(as_text=True)
    assert "was not changed" in follow
    assert shown(bot, "COC-2026-0001")["serious_incident"] is False


@pytest.mark.both_databases
def test_an_extraordinary_meeting_from_the_meetings_page(team: FlaskClient, bot: App) -> None:
    response = post(
        team, "/meetings/extraordinary", {"date": "2026-10-20", "case": "COC-2026-0001"}, page="/meetings"
    )
    assert response.status_code == 302
    assert shown(bot, "COC-2026-0001")["meeting_date"] == "2026-10-20"
    page = team.get("/meetings").get_data(as_text=True)
    assert "20/10/2026" in page


def test_sprg_members_cannot_flag(bot: App) -> None:
    from helpers.workspace import sign_in, web_app

    client = web_app(bot).test_client()
    sign_in(client, "sam.sprg")
    page = client.get("/meetings").get_data(as_text=True)
    response = post(client, "/cases/COC-2026-0001/serious", {"state": "on", "why": "x"}, page="/meetings")
    assert response.status_code == 403 and "Add an extraordinary meeting" not in page
