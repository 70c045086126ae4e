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
from helpers.browser import axe_violations, by_css, chromium, need_tools, sign_in, submit
from helpers.fake_oidc import FakeOidc
from helpers.signin_support import signin_app, web_of
from sqlalchemy import select

from mailbot.clock import FixedClock
from mailbot.store.models import AuditEntry

SHOTS = Path("/tmp/mailbot-screenshots")

pytestmark = pytest.mark.slow


def _serve(web: Any) -> tuple[Any, threading.Thread]:
    from waitress.server import create_server

    srv = create_server(web, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    return srv, thread


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    need_tools()
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
    with chromium("--host-resolver-rules=MAP workspace.test 127.0.0.1") as browser:
        yield browser


def go(driver: Any, site: dict[str, Any], path: str) -> None:
    driver.get(site["url"] + path)


def wait_for(driver: Any, test: Any, seconds: float = 15) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,)).until(test)


def shot(driver: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def test_two_step_sign_in_set_up_and_used(driver: Any, site: dict[str, Any]) -> None:
    clock: FixedClock = site["clock"]
    found: dict[str, list[dict[str, Any]]] = {}
    sign_in(driver, site["url"], "ada.admin")
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
    sign_in(driver, site["url"], "ada.admin")
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
    sign_in(driver, site["url"], "ada.admin")
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
    sign_in(driver, site["secure_url"], "tess.team")
    assert "Signing in needs HTTPS" in by_css(driver, "h1").text
    assert "put it behind HTTPS" in driver.page_source
    assert "This form had expired" not in driver.page_source
    assert axe_violations(driver) == []
    shot(driver, "signin-needs-https")
