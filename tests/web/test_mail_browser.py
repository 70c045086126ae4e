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
    by_css(driver, "section[aria-labelledby=messages-title]").screenshot(
        str(SHOTS / "case-conversation.png"))
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
        viewed = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "message.viewed", AuditEntry.message_id == row.id)).all()
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
    assert f'{len(refs)} case' in by_css(driver, ".lead").text
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
