"""Sign-in in headless Chromium: two-step sign-in set up and used, Entra ID sign-in against
the local fake provider, plain HTTP beyond loopback, and axe-core on every new page.

The workspace is served on http://127.0.0.1 and the fake provider on http://localhost:
different sites to the browser, so the return from the provider is a real cross-site
navigation (the SameSite=Strict session cookie is not sent on it; the workspace moves on
from its own page). For plain HTTP beyond loopback, Chromium maps the host name
``workspace.test`` to 127.0.0.1: an http:// origin that is not loopback, where it keeps no
Secure cookie, as it would for a workspace served on a council's network without HTTPS.

Needs Debian's chromium and chromium-driver, and axe-core (``npm ci``); without them these
tests skip, and fail under CI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from helpers.fake_oidc import FakeOidc
from helpers.services import missing_service
from helpers.signin_support import PASSWORD, signin_app, web_of
from sqlalchemy import select

from mailbot.clock import FixedClock
from mailbot.store.models import AuditEntry

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path("/tmp/mailbot-screenshots")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

pytestmark = pytest.mark.slow


def _need_tools() -> None:
    for path, what in ((CHROMIUM, "Debian's chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            missing_service(f"{what} is not installed at {path}")
    if not AXE.exists():
        missing_service("axe-core is not installed (npm ci at the repository root)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing_service("selenium is not installed (pip install -e '.[test]')")


def _serve(web: Any) -> tuple[Any, threading.Thread]:
    from waitress.server import create_server

    srv = create_server(web, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    return srv, thread


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _need_tools()
    clock = FixedClock(datetime(2026, 10, 12, 9, 15, tzinfo=UTC))
    provider = FakeOidc(clock.now, public_host="localhost")
    provider.start()
    app = signin_app(tmp_path_factory.mktemp("signin"), clock, **provider.settings())
    plain, plain_thread = _serve(web_of(app))
    secure, secure_thread = _serve(web_of(app, secure_cookies=True))
    try:
        yield {
            "url": f"http://127.0.0.1:{plain.effective_port}",
            "secure_url": f"http://workspace.test:{secure.effective_port}",
            "app": app,
            "clock": clock,
            "provider": provider,
        }
    finally:
        for srv, thread in ((plain, plain_thread), (secure, secure_thread)):
            srv.close()
            thread.join(timeout=5)
        provider.stop()
        app.close()


@pytest.fixture(scope="module")
def driver(site: dict[str, Any]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--window-size=1280,1000",
        "--lang=en-GB",
        "--host-resolver-rules=MAP workspace.test 127.0.0.1",
    ):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


def go(driver: Any, site: dict[str, Any], path: str) -> None:
    driver.get(site["url"] + path)


def by_css(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def wait_for(driver: Any, test: Any, seconds: float = 15) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,)).until(test)


def submit(driver: Any, css: str = "form.form button[type=submit]") -> None:
    """Click and wait until the next page has replaced this one."""
    driver.execute_script("window.__mailbotOldPage = true;")
    by_css(driver, css).click()
    wait_for(
        driver,
        lambda d: d.execute_script(
            "return window.__mailbotOldPage === undefined && document.readyState === 'complete'"
        ),
    )


def password_step(driver: Any, base: str, name: str, password: str = PASSWORD) -> None:
    driver.delete_all_cookies()
    driver.get(base + "/sign-in")
    by_css(driver, "#name").send_keys(name)
    by_css(driver, "#password").send_keys(password)
    submit(driver)


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(30)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
        AXE_TAGS,
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def shot(driver: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def test_two_step_sign_in_set_up_and_used(driver: Any, site: dict[str, Any]) -> None:
    clock: FixedClock = site["clock"]
    found: dict[str, list[dict[str, Any]]] = {}
    password_step(driver, site["url"], "ada.admin")
    assert driver.current_url.endswith("/account/two-step")
    assert by_css(driver, "svg[role=img] title").get_attribute("textContent").startswith("QR code")
    found["enrol"] = axe_violations(driver)
    shot(driver, "signin-two-step-setup")
    secret = by_css(driver, "#secret").text.replace(" ", "")

    by_css(driver, "#code").send_keys("123456")
    submit(driver)
    assert "The code is not right" in by_css(driver, ".error-summary").text
    found["enrol, wrong code"] = axe_violations(driver)

    by_css(driver, "#code").send_keys(pyotp.TOTP(secret).at(clock.now()))
    submit(driver)
    codes = [li.text for li in driver.find_elements("css selector", "#recovery-codes li")]
    assert len(codes) == 10
    found["recovery codes"] = axe_violations(driver)
    submit(driver, "a.button")
    assert driver.current_url.endswith("/admin/users")
    go(driver, site, "/account/two-step")
    assert "Two-step sign-in is on" in driver.page_source
    found["two-step on"] = axe_violations(driver)

    # Next time: password, then the code; the code already used is refused.
    password_step(driver, site["url"], "ada.admin")
    assert driver.current_url.endswith("/sign-in/code")
    found["code"] = axe_violations(driver)
    by_css(driver, "#code").send_keys(pyotp.TOTP(secret).at(clock.now()))
    submit(driver)
    assert "used already" in by_css(driver, ".error-summary").text
    found["code, refused"] = axe_violations(driver)
    shot(driver, "signin-code-refused")
    clock.advance(seconds=30)
    by_css(driver, "#code").send_keys(pyotp.TOTP(secret).at(clock.now()))
    submit(driver)
    assert driver.current_url.endswith("/admin/users")

    # A recovery code instead of the phone.
    password_step(driver, site["url"], "ada.admin")
    by_css(driver, "#code").send_keys(codes[0])
    submit(driver)
    assert driver.current_url.endswith("/admin/users")
    assert "9 left" in by_css(driver, ".flashes").text
    assert not {page: v for page, v in found.items() if v}, found


def test_sign_in_with_microsoft(driver: Any, site: dict[str, Any]) -> None:
    provider: FakeOidc = site["provider"]
    provider.user.update(roles=["CSCP.Team"])
    provider.interactive = True  # the way back starts on the provider's page: cross-site
    driver.delete_all_cookies()
    go(driver, site, "/sign-in?next=/meetings")
    assert axe_violations(driver) == []
    shot(driver, "signin-page")
    submit(driver, "a[href^='/sign-in/entra']")
    assert driver.current_url.startswith("http://localhost:")
    submit(driver, "#continue")
    wait_for(driver, lambda d: urlsplit(d.current_url).path == "/meetings")
    assert "Signed in as" in by_css(driver, ".site-header__user").text
    assert "ada.lovelace@croydon.example" in by_css(driver, ".site-header__user").text
    assert "GET /oauth2/v2.0/authorize" in provider.requests
    go(driver, site, "/queue")
    assert by_css(driver, "h1").text  # the team's queue opens: a full session
    with site["app"].db.session() as session:
        details = session.scalars(
            select(AuditEntry.detail).where(
                AuditEntry.actor == "ada.lovelace@croydon.example", AuditEntry.action == "user.signed_in"
            )
        ).all()
    assert details == ["Entra ID"]

    # A Microsoft account with no role for the workspace: a plain refusal.
    provider.user.update(sub="subject-bob", preferred_username="bob@croydon.example", roles=["Other.App"])
    provider.interactive = False
    driver.delete_all_cookies()
    go(driver, site, "/sign-in")
    submit(driver, "a[href^='/sign-in/entra']")
    wait_for(driver, lambda d: "no role in this workspace" in d.page_source)
    assert axe_violations(driver) == []
    provider.user.update(
        sub="subject-ada", preferred_username="ada.lovelace@croydon.example", roles=["CSCP.Team"]
    )


def test_the_signed_in_page_passes_axe(driver: Any, site: dict[str, Any]) -> None:
    """The page shown for a moment after Entra ID, before it moves on by itself."""
    from flask import render_template

    web = web_of(site["app"])
    with web.test_request_context("/sign-in/entra/callback"):
        from mailbot.web import auth

        auth.load_user()
        html = render_template("web/signed_in.html", target="/queue")
    driver.delete_all_cookies()
    go(driver, site, "/sign-in")
    driver.execute_script("document.open(); document.write(arguments[0]); document.close();", html)
    assert "You are signed in" in by_css(driver, "h1").text
    assert axe_violations(driver) == []


def test_plain_http_beyond_loopback_says_why(driver: Any, site: dict[str, Any]) -> None:
    password_step(driver, site["secure_url"], "tess.team")
    assert "Signing in needs HTTPS" in by_css(driver, "h1").text
    assert "put it behind HTTPS" in driver.page_source
    assert "This form had expired" not in driver.page_source
    assert axe_violations(driver) == []
    shot(driver, "signin-needs-https")
