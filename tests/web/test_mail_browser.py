"""The team reads the mail in headless Chromium: a case's conversation, a held message
read then released, a search; axe-core on every page touched. Screenshots of the
conversation and of search results go to ``MAILBOT_SHOTS`` (default /tmp/mailbot-screenshots).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.browser import axe_violations, by_css, chromium, need_tools, screenshot, served, submit
from helpers.browser import sign_in as browser_sign_in
from helpers.workspace import seeded_app, web_app
from sqlalchemy import select

from mailbot.clock import FixedClock
from mailbot.store.models import AuditEntry, InboundMessage

SHOTS = Path(os.environ.get("MAILBOT_SHOTS", "/tmp/mailbot-screenshots"))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    need_tools()
    clock = FixedClock(datetime(2026, 10, 12, 9, 15, tzinfo=UTC))
    app = seeded_app(tmp_path_factory.mktemp("mail"), clock)
    try:
        with served(web_app(app)) as url, chromium() as driver:
            yield {"url": url, "app": app, "driver": driver}
    finally:
        app.close()


def clean(driver: Any, found: dict[str, Any]) -> None:
    found[driver.current_url] = axe_violations(driver)


def test_read_a_case_conversation(site: dict[str, Any]) -> None:
    driver, url, found = site["driver"], site["url"], {}
    browser_sign_in(driver, url, "tess.team")
    driver.get(url + "/cases/COC-2026-0001")
    mails = driver.find_elements("css selector", "article.mail")
    assert len(mails) >= 2
    first, reply = mails[0].text, mails[1].text
    assert "Please find attached a Case of Concern Review referral form" in first
    assert "Form received (complete)" in first and "coc-01-complete.docx" in first
    assert "Thank you for your Case of Concern referral" in reply
    clean(driver, found)
    screenshot(driver, SHOTS / "case-page.png")
    SHOTS.mkdir(parents=True, exist_ok=True)
    by_css(driver, "section[aria-labelledby=messages-title]").screenshot(str(SHOTS / "case-conversation.png"))
    assert not any(found.values()), found


def test_release_a_held_message_after_reading_it(site: dict[str, Any]) -> None:
    driver, url, app, found = site["driver"], site["url"], site["app"], {}
    browser_sign_in(driver, url, "tess.team")
    driver.get(url + "/quarantine")
    clean(driver, found)
    submit(driver, "table a[href^='/quarantine/']")
    assert by_css(driver, "h1").text == "Held message"
    row_id = driver.current_url.rsplit("/", 1)[1]
    assert "Please action the attached referral urgently." in by_css(driver, "article.mail").text
    clean(driver, found)
    submit(driver, "#release")
    assert "released" in by_css(driver, ".flashes").text
    with app.db.session() as session:
        row = session.get(InboundMessage, row_id)
        viewed = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "message.viewed", AuditEntry.message_id == row.id)
        ).all()
        assert row.hold_state == "released" and [v.actor for v in viewed] == ["tess.team"]
    assert not any(found.values()), found


def test_search_the_queue(site: dict[str, Any]) -> None:
    driver, url, found = site["driver"], site["url"], {}
    browser_sign_in(driver, url, "tess.team")
    by_css(driver, "#q").send_keys("AMÉLIA")
    submit(driver, "form.search button[type=submit]")
    rows = driver.find_elements("css selector", "table.queue tbody tr")
    refs = [r.text.split()[0] for r in rows]
    # The released message (same child, from the police) opened COC-2026-0006.
    assert refs[0] == "COC-2026-0001" and set(refs) <= {"COC-2026-0001", "COC-2026-0006"}
    assert f"{len(refs)} case" in by_css(driver, ".lead").text
    assert 'found for "AMÉLIA"' in by_css(driver, ".lead").text
    clean(driver, found)
    screenshot(driver, SHOTS / "search-results.png")
    field = by_css(driver, "#q")
    field.clear()
    field.send_keys("14/07/2010")
    submit(driver, "form.search button[type=submit]")
    rows = driver.find_elements("css selector", "table.queue tbody tr")
    assert [r.text.split()[0] for r in rows] == ["COC-2026-0004"]
    assert not any(found.values()), found


def test_add_a_note_and_an_owner(site: dict[str, Any]) -> None:
    from selenium.webdriver.support.ui import Select

    driver, url, found = site["driver"], site["url"], {}
    browser_sign_in(driver, url, "tess.team")
    driver.get(url + "/cases/COC-2026-0002")
    by_css(driver, "#note").send_keys("Phoned the health visitor: the form follows today.")
    submit(driver, "#note ~ button, form[action$='/notes'] button[type=submit]")
    assert "Note added." in by_css(driver, ".flashes").text
    notes = by_css(driver, "section[aria-labelledby=notes-title]").text
    assert "Phoned the health visitor: the form follows today." in notes and "tess.team" in notes
    Select(by_css(driver, "#owner")).select_by_value("tess.team")
    submit(driver, "form[action$='/owner'] button[type=submit]")
    assert "now owned by tess.team" in by_css(driver, ".flashes").text
    clean(driver, found)
    assert not any(found.values()), found


def test_write_to_the_referrer_and_see_the_reply_join(site: dict[str, Any]) -> None:
    from helpers.hostile import message

    from mailbot.intake.poller import Poller
    from mailbot.store.models import Outbox

    driver, url, app, found = site["driver"], site["url"], site["app"], {}
    browser_sign_in(driver, url, "tess.team")
    driver.get(url + "/cases/COC-2026-0004")
    submit(driver, "a[href$='/write']")
    clean(driver, found)
    by_css(driver, "#text").send_keys("Is Jaylen still at the same address?")
    submit(driver, "form.form button[type=submit]")
    assert "Check before you send" in by_css(driver, "[role=alert]").text  # the child's name
    clean(driver, found)
    app.clock.advance(seconds=60)  # the server's clock: the message follows what came before
    field = by_css(driver, "#text")
    field.clear()
    field.send_keys("Is the child still at the same address? Please reply to this e-mail.")
    submit(driver, "form.form button[type=submit]")
    assert "is in the outbox" in by_css(driver, ".flashes").text
    with app.db.session() as session:
        sent = session.scalars(select(Outbox).where(Outbox.written_by == "tess.team")).one()
        recipient = app.vault.open_text(session, sent, "recipient_enc")
        our_id = sent.message_id
    app.clock.advance(seconds=60)
    app.mailbox.append(
        message(
            sender=recipient,
            subject="RE: [COC-2026-0004] Message from the CSCP team",
            message_id="<LO2P265MB5012C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5@LO2P265MB5012.GBRP265.PROD.OUTLOOK.COM>",
            headers=[("In-Reply-To", our_id), ("References", our_id)],
            text="Yes, still at the same address. Thanks.\r\n",
        )
    )
    Poller(app).cycle()
    driver.get(url + "/cases/COC-2026-0004")
    mails = [m.text for m in driver.find_elements("css selector", "article.mail")]
    mine = next(i for i, m in enumerate(mails) if "Is the child still at the same address" in m)
    reply = next(i for i, m in enumerate(mails) if "Yes, still at the same address." in m)
    assert mine < reply and "written by tess.team" in mails[mine]
    clean(driver, found)
    screenshot(driver, SHOTS / "case-reply-joined.png")
    driver.get(url + "/meetings")
    clean(driver, found)
    assert not any(found.values()), found
