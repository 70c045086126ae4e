"""The meetings page: move/hold, the agenda pack, the SPRG digest, the outcome form."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from helpers.workspace import post
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import views
from mailbot.store.models import Outbox


@pytest.fixture
def bot(seeded_bot: App) -> App:
    return seeded_bot


def status(bot: App, ref: str) -> tuple[str, str | None]:
    with bot.db.session() as session:
        item = views.show(session, bot.vault, ref, from_address=bot.settings.mail_from).as_json()
    return item["status"], item["meeting_date"]


@pytest.mark.both_databases
def test_meetings_page_lists_each_meeting_and_its_cases(team: FlaskClient) -> None:
    page = team.get("/meetings").get_data(as_text=True)
    assert "Meeting on Thursday 29/10/2026" in page
    section = page.split('id="m-2026-10-29"')[1].split("</section>")[0]
    assert "COC-2026-0001" in section and "COC-2026-0004" in section


@pytest.mark.both_databases
def test_move_and_hold(team: FlaskClient, bot: App) -> None:
    response = post(team, "/cases/COC-2026-0001/schedule", {"meeting": "2026-11-26"}, page="/meetings")
    assert response.status_code == 302
    assert status(bot, "COC-2026-0001") == ("scheduled", "2026-11-26")
    post(team, "/cases/COC-2026-0001/schedule", {"meeting": "hold"}, page="/meetings")
    assert status(bot, "COC-2026-0001") == ("held", None)
    response = post(team, "/cases/COC-2026-0001/schedule", {"meeting": "2026-11-27"}, page="/meetings")
    follow = team.get(response.headers["Location"]).get_data(as_text=True)
    assert "was not moved" in follow and "not an SPRG meeting date" in follow
    post(team, "/cases/COC-2026-0002/schedule", {"meeting": "2026-10-29"}, page="/meetings")
    assert status(bot, "COC-2026-0002")[0] == "awaiting_information"


@pytest.mark.both_databases
def test_pack_and_digest(team: FlaskClient, bot: App) -> None:
    pack = team.get("/meetings/2026-10-29/pack.docx")
    assert pack.status_code == 200 and pack.data[:2] == b"PK"
    assert team.get("/meetings/2026-12-01/pack.docx").status_code == 404
    response = post(team, "/meetings/2026-10-29/digest", {}, page="/meetings")
    assert response.status_code == 302
    with bot.db.session() as session:
        digests = session.scalars(select(Outbox).where(Outbox.kind == "digest")).all()
    assert [d.case_refs for d in digests] == [["COC-2026-0001", "COC-2026-0004"]]
    assert "Digest sent to the members" in team.get("/meetings").get_data(as_text=True)


@pytest.mark.both_databases
def test_outcome_form_records_the_decision(team: FlaskClient, bot: App) -> None:
    page = team.get("/cases/COC-2026-0001/outcome").get_data(as_text=True)
    assert "29/10/2026" in page  # the meeting date is filled in
    bad = post(team, "/cases/COC-2026-0001/outcome", {"outcome.final_report_date": "soon"})
    assert bad.status_code == 400
    form = {
        "outcome.single_agency.decision": "N",
        "outcome.multi_agency.decision": "Y",
        "outcome.multi_agency.agencies": "Health; Police",
        "outcome.methodology": "Rapid review",
        "outcome.final_report_date": "26/11/2026",
        "sprg.meeting_date": "29/10/2026",
        "sprg.chair": "The chair",
    }
    # 12/10/2026: the meeting of 29/10/2026 is still to come (issue 12 part 5).
    early = post(team, "/cases/COC-2026-0001/outcome", form)
    assert early.status_code == 400
    assert "COC-2026-0001: the SPRG meeting of 29/10/2026 has not happened yet" in early.get_data(
        as_text=True
    )
    assert status(bot, "COC-2026-0001")[0] == "scheduled"
    response = post(team, "/cases/COC-2026-0001/outcome", {**form, "force": "yes"})
    assert response.status_code == 302
    with bot.db.session() as session:
        item = views.show(session, bot.vault, "COC-2026-0001", from_address="x@example.org").as_json()
    assert item["status"] == "decided"
    outcome = item["referral"]["outcome"]
    assert outcome["multi_agency"]["decision"] == "Y"
    assert outcome["final_report_date"] == "2026-11-26"
    case_page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "Rapid review" in case_page
    # A case on no agenda has no outcome form.
    response = team.get("/cases/COC-2026-0003/outcome")
    assert response.status_code == 302
