"""The team's case work in the workspace: edits, merge, split, files, held messages, close."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from helpers.workspace import post, sign_in
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import store as case_store
from mailbot.cases import views
from mailbot.clock import FixedClock
from mailbot.store.models import Attachment, AuditEntry, Case, InboundMessage, ReferralVersion
from mailbot.store.sealed_blob import open_pieces


@pytest.fixture
def bot(seeded_bot: App) -> App:
    return seeded_bot


def case_of(bot: App, ref: str) -> dict:
    with bot.db.session() as session:
        return views.show(session, bot.vault, ref, from_address=bot.settings.mail_from).as_json()


def edit(team: FlaskClient, ref: str, key: str, value: str | list[str], reason: str = "phone"):
    return post(team, f"/cases/{ref}/edit/{key}", {"value": value, "reason": reason})


@pytest.mark.both_databases
def test_queue_shows_every_open_case_with_filters_and_sort(team: FlaskClient) -> None:
    page = team.get("/queue").get_data(as_text=True)
    for ref in ("COC-2026-0001", "COC-2026-0002", "COC-2026-0003", "COC-2026-0004", "COC-2026-0005"):
        assert ref in page
    assert "Sampleford Health Visiting Service" in page
    waiting = team.get("/queue?status=awaiting_information").get_data(as_text=True)
    assert "COC-2026-0002" in waiting and "COC-2026-0001" not in waiting
    on_meeting = team.get("/queue?meeting=2026-10-29").get_data(as_text=True)
    assert "COC-2026-0001" in on_meeting and "COC-2026-0002" not in on_meeting
    newest = team.get("/queue?sort=ref").get_data(as_text=True)
    assert newest.index("COC-2026-0001") < newest.index("COC-2026-0005")


def test_overdue_cases_are_highlighted(team: FlaskClient, bot: App, clock: FixedClock) -> None:
    clock.advance(days=21)  # 15 working days: twice the chaser days and more
    sign_in(team, "tess.team")  # the old session timed out
    page = team.get("/queue").get_data(as_text=True)
    row = page.split("COC-2026-0002</a>")[0].rsplit("<tr", 1)[1]
    assert 'class="overdue"' in row
    assert "Overdue" in page


@pytest.mark.both_databases
def test_editing_fields_makes_versions_with_who_and_why(team: FlaskClient, bot: App) -> None:
    assert edit(team, "COC-2026-0002", "referrer.role", "Health visitor").status_code == 302
    assert edit(team, "COC-2026-0002", "child.dob", "14/07/2025").status_code == 302
    response = edit(
        team, "COC-2026-0002", "anticipated_learning", "Sharing information", reason="read from the scan"
    )
    assert response.status_code == 302
    item = case_of(bot, "COC-2026-0002")
    assert item["referral"]["child"]["dob"] == "2025-07-14"
    assert item["missing_required"] == [] and item["status"] == "ready"
    assert item["provenance"]["child.dob"] == "manual:tess.team"
    with bot.db.session() as session:
        case = case_store.case_by_ref(session, "COC-2026-0002")
        last = session.scalars(
            select(ReferralVersion).where(ReferralVersion.case_id == case.id, ReferralVersion.version == 4)
        ).one()
        assert (last.source, last.created_by) == ("manual", "tess.team")
        assert bot.vault.open_text(session, last, "note_enc", key_id=case.key_id) == "read from the scan"
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.case_id == case.id, AuditEntry.actor == "tess.team")
        ).all()
    assert actions.count("case.edited") == 3
    page = team.get("/cases/COC-2026-0002").get_data(as_text=True)
    assert "read from the scan" in page and "entered by tess.team" in page


def test_a_wrong_value_is_explained_and_not_saved(team: FlaskClient, bot: App) -> None:
    response = edit(team, "COC-2026-0002", "child.dob", "next tuesday")
    assert response.status_code == 400
    assert "day/month/year" in response.get_data(as_text=True)
    assert edit(team, "COC-2026-0002", "child.dob", "14/07/2025", reason=" ").status_code == 400
    assert case_of(bot, "COC-2026-0002")["version"] == 1
    assert team.get("/cases/COC-2026-0002/edit/outcome.methodology").status_code == 404


@pytest.mark.both_databases
def test_themes_and_household_can_be_edited(team: FlaskClient, bot: App) -> None:
    assert edit(team, "COC-2026-0002", "themes", ["Neglect", "ACEs"]).status_code == 302
    assert case_of(bot, "COC-2026-0002")["referral"]["themes"] == ["ACEs", "Neglect"]
    assert edit(team, "COC-2026-0002", "household.1.name", "Another Person").status_code == 302
    household = case_of(bot, "COC-2026-0002")["referral"]["household"]
    assert household[1]["name"] == "Another Person"


@pytest.mark.both_databases
def test_merge_fills_blanks_and_closes_the_other(team: FlaskClient, bot: App) -> None:
    response = post(
        team,
        "/cases/COC-2026-0003/merge",
        {"other": "COC-2026-0005", "reason": "the form for the same referral"},
    )
    assert response.status_code == 302
    kept = case_of(bot, "COC-2026-0003")
    assert kept["referral"]["referrer"]["agency"] == "Sampleton NHS Foundation Trust"
    assert kept["provenance"]["referrer.agency"] == "merged:COC-2026-0005"
    assert case_of(bot, "COC-2026-0005")["status"] == "closed"
    assert (
        post(team, "/cases/COC-2026-0003/merge", {"other": "COC-2026-0003", "reason": "x"}).status_code == 400
    )


@pytest.mark.both_databases
def test_split_makes_a_new_case_from_a_file(team: FlaskClient, bot: App) -> None:
    before = case_of(bot, "COC-2026-0004")
    assert len(before["attachments"]) == 2
    second = before["attachments"][1]
    response = post(team, f"/cases/COC-2026-0004/split/{second['id']}", {"reason": "two forms in one e-mail"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/cases/COC-2026-0006"
    new = case_of(bot, "COC-2026-0006")
    assert [a["id"] for a in new["attachments"]] == [second["id"]]
    assert new["referral"]["child"]["full_name"]
    assert len(case_of(bot, "COC-2026-0004")["attachments"]) == 1


@pytest.mark.both_databases
def test_original_files_download_and_are_audited(team: FlaskClient, bot: App) -> None:
    with bot.db.session() as session:
        case = case_store.case_by_ref(session, "COC-2026-0002")
        att = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).first()
        assert att is not None
        data = open_pieces(session, bot.vault, att, "data_enc")
    response = team.get(f"/cases/COC-2026-0002/attachments/{att.id}")
    assert response.status_code == 200 and response.data == data
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert team.get(f"/cases/COC-2026-0001/attachments/{att.id}").status_code == 404
    with bot.db.session() as session:
        assert (
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "attachment.downloaded", AuditEntry.actor == "tess.team"
                )
            ).first()
            is not None
        )


@pytest.mark.both_databases
def test_release_and_reject_held_messages(team: FlaskClient, bot: App) -> None:
    with bot.db.session() as session:
        held = [i.as_json() for i in views.quarantine(session, bot.vault)]
    assert len(held) == 1
    page = team.get("/quarantine").get_data(as_text=True)
    assert "Release" in page
    response = post(team, f"/quarantine/{held[0]['id']}/release", {}, page="/quarantine")
    assert response.status_code == 302
    with bot.db.session() as session:
        row = session.get(InboundMessage, held[0]["id"])
        assert row is not None and row.hold_state == "released"
        assert "released by tess.team" in row.reason
        assert session.scalar(select(Case.ref).where(Case.ref == "COC-2026-0006"))
    # A second decision on the same message is refused in plain words.
    response = post(team, f"/quarantine/{held[0]['id']}/reject", {"reason": "spam"}, page="/quarantine")
    follow = team.get(response.headers["Location"]).get_data(as_text=True)
    assert "was already released" in follow


@pytest.mark.both_databases
def test_close_a_case(team: FlaskClient, bot: App) -> None:
    response = post(team, "/cases/COC-2026-0003/close", {"reason": "withdrawn"}, page="/cases/COC-2026-0003")
    assert response.status_code == 302
    assert case_of(bot, "COC-2026-0003")["status"] == "closed"
    assert "withdrawn" in team.get("/cases/COC-2026-0003").get_data(as_text=True)


@pytest.mark.both_databases
def test_marked_workspace_tests_run_on_both_databases(
    seeded_bot: App, request: pytest.FixtureRequest
) -> None:
    """The ``both_databases`` mark gives one run per database, each with a database of its own."""
    wanted = request.node.callspec.params["workspace_database"]
    assert seeded_bot.db.dialect == wanted
    if wanted == "postgresql":
        assert str(seeded_bot.db.engine.url.database).startswith("mailbot_t_")
