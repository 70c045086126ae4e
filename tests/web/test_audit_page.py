"""Every read in the workspace is audited, parallel views keep one chain, and the audit
page filters by person, case and dates, pages, and speaks in plain words."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from helpers.bot import eml, make_app
from helpers.workspace import PASSWORD, sign_in, web_app
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import store as case_store
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.store import audit as audit_mod
from mailbot.store.models import Attachment, AuditEntry, Case
from mailbot.web import users


def _entries(bot: App, action: str) -> list[AuditEntry]:
    with bot.db.session() as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        )


def test_48_parallel_case_views_keep_one_chain(tmp_path: Path, database_url: str, clock: FixedClock) -> None:
    bot = make_app(tmp_path, database_url, clock, MAILBOT_WEB_TOTP="off")
    try:
        bot.mailbox.append(eml("mail-01-referral-complete"))
        Poller(bot).cycle()
        with bot.db.session() as session:
            users.add_user(session, "tess.team", "team", PASSWORD, clock.now())
        web = web_app(bot)
        first = web.test_client()
        sign_in(first, "tess.team")
        token = first.get_cookie("mailbot_session")
        assert token is not None
        barrier = threading.Barrier(48)
        codes: list[int] = []

        def view() -> None:
            client = web.test_client()
            client.set_cookie("mailbot_session", token.value)
            barrier.wait(timeout=60)
            codes.append(client.get("/cases/COC-2026-0001").status_code)

        threads = [threading.Thread(target=view) for _ in range(48)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        assert codes == [200] * 48
        assert len(_entries(bot, "case.viewed")) == 48
        with bot.db.session() as session:
            prevs = session.scalars(select(AuditEntry.prev_hash)).all()
            assert len(prevs) == len(set(prevs)), "two entries follow one: the chain forked"
            report = audit_mod.check_audit_chain(session)
        assert report.intact, report
        page = first.get("/audit").get_data(as_text=True)
        assert "chain of checks is intact" in page
    finally:
        bot.close()


@pytest.mark.both_databases
def test_the_held_messages_page_is_audited_per_message(team: FlaskClient, seeded_bot: App) -> None:
    assert team.get("/quarantine").status_code == 200
    (entry,) = _entries(seeded_bot, "quarantine.viewed")
    assert entry.actor == "tess.team" and entry.message_id


@pytest.mark.both_databases
def test_the_split_page_is_audited(team: FlaskClient, seeded_bot: App) -> None:
    with seeded_bot.db.session() as session:
        case = case_store.case_by_ref(session, "COC-2026-0004")
        att = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).first()
        assert att is not None
    assert team.get(f"/cases/COC-2026-0004/split/{att.id}").status_code == 200
    (entry,) = _entries(seeded_bot, "attachment.split_page_viewed")
    assert (entry.actor, entry.case_id) == ("tess.team", case.id)


@pytest.mark.both_databases
def test_a_pack_download_is_audited_once_per_case(team: FlaskClient, seeded_bot: App) -> None:
    assert team.get("/meetings/2026-10-29/pack.docx").status_code == 200
    entries = _entries(seeded_bot, "sprg.pack_downloaded")
    with seeded_bot.db.session() as session:
        refs = sorted(session.get_one(Case, e.case_id).ref for e in entries if e.case_id)
    assert len(entries) >= 2 and all(e.case_id for e in entries)
    assert "COC-2026-0001" in refs and "COC-2026-0004" in refs


@pytest.mark.both_databases
def test_the_audit_page_filters_pages_and_speaks_plainly(
    team: FlaskClient, seeded_bot: App, clock: FixedClock
) -> None:
    team.get("/cases/COC-2026-0001")
    team.get("/meetings/2026-10-29/pack.docx")
    page = team.get("/audit?user=tess.team").get_data(as_text=True)
    assert "viewed the case" in page and "downloaded the agenda pack" in page
    assert "case.viewed" not in page and "sprg.pack_downloaded" not in page
    assert "opened the case" not in page  # the bot's own entries are filtered out
    page = team.get("/audit?ref=COC-2026-0001").get_data(as_text=True)
    assert "COC-2026-0004" not in page.split("<tbody>")[1]
    with seeded_bot.db.session() as session:  # sixty entries from an earlier week
        for n in range(60):
            audit_mod.audit(session, clock.now().replace(day=1), "old.user", "case.viewed", detail=f"n{n}")
    page = team.get("/audit?user=old.user").get_data(as_text=True)
    assert "Page 1 of 2" in page and page.count("<tr><td>") == 50
    page = team.get("/audit?user=old.user&page=2").get_data(as_text=True)
    assert page.count("<tr><td>") == 10
    page = team.get("/audit?user=old.user&from=02/10/2026").get_data(as_text=True)
    assert "No entries." in page
    page = team.get("/audit?from=01/10/2026&to=01/10/2026").get_data(as_text=True)
    assert "old.user" in page and "tess.team" not in page.split("<tbody>")[1]
    assert team.get("/audit?from=yesterday").status_code == 400
