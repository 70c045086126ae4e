"""The workspace in headless Chromium: the team's day, refusals, and axe-core on every page.

Debian's ``chromium`` and ``chromium-driver`` (installed by ``.ci/run``) and axe-core from
npm (``node_modules/axe-core``) are needed; without them these tests skip, and fail
under CI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.browser import axe_violations, by_css, chromium, need_tools, sign_in, submit
from helpers.workspace import seeded_app, web_app
from sqlalchemy import select

from mailbot.clock import FixedClock
from mailbot.store.models import AuditEntry

SHOTS = Path("/tmp/mailbot-screenshots")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    need_tools()
    from waitress.server import create_server

    clock = FixedClock(datetime(2026, 10, 12, 9, 15, tzinfo=UTC))
    app = seeded_app(tmp_path_factory.mktemp("web"), clock)
    srv = create_server(web_app(app), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{srv.effective_port}", "app": app, "clock": clock}
    finally:
        srv.close()
        thread.join(timeout=5)
        app.close()


@pytest.fixture(scope="module")
def driver(server: dict[str, Any]) -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def go(driver: Any, server: dict[str, Any], path: str) -> None:
    driver.get(server["url"] + path)


def shot(driver: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(max(900, height), 4000))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1280, 1000)


def test_the_team_works_a_case_through(driver: Any, server: dict[str, Any]) -> None:
    from selenium.webdriver.support.ui import Select

    sign_in(driver, server["url"], "tess.team")
    assert driver.current_url.endswith("/queue")
    assert "COC-2026-0002" in by_css(driver, "table.queue").text
    shot(driver, "queue")

    submit(driver, "a[href='/cases/COC-2026-0002']")
    assert by_css(driver, "h1").text.startswith("COC-2026-0002")
    assert "Missing" in driver.page_source
    shot(driver, "case")

    # Fix the three missing fields, each a new version with who and why.
    for key, value in (
        ("referrer.role", "Health visitor"),
        ("child.dob", "14/07/2025"),
        ("anticipated_learning", "How services shared information."),
    ):
        go(driver, server, f"/cases/COC-2026-0002/edit/{key}")
        field = by_css(driver, "#value")
        field.clear()
        field.send_keys(value)
        by_css(driver, "#reason").send_keys("the referrer told us by phone")
        submit(driver)
        assert "saved as version" in by_css(driver, ".flashes").text
    assert "Ready to schedule" in by_css(driver, "h1").text

    # Schedule it to the next meeting from the case page.
    Select(by_css(driver, "#schedule-meeting")).select_by_value("2026-10-29")
    submit(driver, "#schedule-meeting ~ button")
    assert "on the agenda of 29/10/2026" in by_css(driver, ".flashes").text

    # Record the SPRG outcome in the form's outcome section.
    go(driver, server, "/meetings")
    assert "COC-2026-0002" in by_css(driver, "#m-2026-10-29").text
    go(driver, server, "/cases/COC-2026-0002/outcome")
    by_css(driver, "#outcome\\.single_agency\\.decision-n").click()
    by_css(driver, "#outcome\\.multi_agency\\.decision-y").click()
    by_css(driver, "#multi_agency-agencies").send_keys("Health, Police, Children's Social Care")
    by_css(driver, "#final-report").send_keys("26/11/2026")
    by_css(driver, "#force").click()  # the meeting of 29/10/2026 is still to come
    submit(driver)
    assert "outcome for COC-2026-0002 is recorded" in by_css(driver, ".flashes").text
    shot(driver, "meetings")
    go(driver, server, "/trends")
    shot(driver, "trends")

    # The audit log shows the user's views and changes of the case.
    go(driver, server, "/audit?ref=COC-2026-0002")
    log = by_css(driver, "table").text
    # In plain words (store/audit_log.py), not the codes.
    assert "tess.team viewed the case" in log
    assert "tess.team changed a field of the case" in log
    assert "tess.team put the case on a meeting's agenda" in log
    assert "tess.team recorded the SPRG decision" in log


def test_refusals(driver: Any, server: dict[str, Any]) -> None:
    driver.delete_all_cookies()
    go(driver, server, "/cases/COC-2026-0001")
    assert "/sign-in" in driver.current_url

    sign_in(driver, server["url"], "tess.team", "not the password")
    assert "There is a problem" in driver.page_source
    assert "/sign-in" in driver.current_url

    # A form whose CSRF token was tampered with changes nothing.
    sign_in(driver, server["url"], "tess.team")
    go(driver, server, "/cases/COC-2026-0003/edit/referrer.name")
    driver.execute_script("document.querySelector('form.form input[name=csrf_token]').value = 'forged'")
    by_css(driver, "#value").send_keys("Someone")
    by_css(driver, "#reason").send_keys("test")
    submit(driver)
    assert "The form could not be accepted" in driver.page_source

    # An SPRG member: a case on an agenda opens, one on no agenda is refused.
    sign_in(driver, server["url"], "sam.sprg")
    go(driver, server, "/cases/COC-2026-0001")
    assert by_css(driver, "h1").text.startswith("COC-2026-0001")
    go(driver, server, "/cases/COC-2026-0003")
    assert "You do not have access" in by_css(driver, "h1").text
    go(driver, server, "/queue")
    assert "You do not have access" in by_css(driver, "h1").text
    with server["app"].db.session() as session:
        actors = set(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "case.viewed")))
    assert "sam.sprg" in actors


PAGES = {
    "tess.team": [
        "/queue",
        "/queue?status=&sort=newest",
        "/cases/COC-2026-0004",
        "/cases/COC-2026-0003",
        "/cases/COC-2026-0005/edit/child.dob",
        "/cases/COC-2026-0005/edit/themes",
        "/cases/COC-2026-0001/merge",
        "/cases/COC-2026-0004/split/{att}",
        "/cases/COC-2026-0001/outcome",
        "/meetings",
        "/quarantine",
        "/trends",
        "/audit",
        "/nowhere",
    ],
    "sam.sprg": ["/meetings", "/cases/COC-2026-0001"],
    "ada.admin": ["/admin/users", "/admin/settings"],
}


def test_every_page_passes_axe(driver: Any, server: dict[str, Any]) -> None:
    from mailbot.store.models import Attachment, Case

    with server["app"].db.session() as session:
        att = session.scalars(
            select(Attachment.id).join(Case, Case.id == Attachment.case_id).where(Case.ref == "COC-2026-0004")
        ).first()
    found = {}
    driver.delete_all_cookies()
    go(driver, server, "/sign-in")
    found["/sign-in"] = axe_violations(driver)
    for user, pages in PAGES.items():
        sign_in(driver, server["url"], user)
        for page in pages:
            go(driver, server, page.format(att=att))
            found[f"{user} {page}"] = axe_violations(driver)
    bad = {page: v for page, v in found.items() if v}
    assert not bad, bad
    assert len(found) == 1 + sum(len(p) for p in PAGES.values())
