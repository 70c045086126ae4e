"""Signing in over plain HTTP beyond loopback says why it cannot work (issue 15 item 4).

Served beyond loopback, the workspace's cookies are Secure; a browser on an http:// page
does not keep them, so the sign-in form came back without its CSRF cookie and the person
read "This form had expired". Flask's test client keeps Secure cookies over http, so the
browser's behaviour is played here by dropping the cookie (the browser test does it for
real, in Chromium, with an http:// host name that is not loopback).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.signin_support import PASSWORD, csrf_of, signin_app, web_of

from mailbot.app import App
from mailbot.clock import FixedClock


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = signin_app(tmp_path, clock, MAILBOT_WEB_TOTP="off")
    yield app
    app.close()


def _post_without_the_cookie(bot: App, base_url: str) -> tuple[int, str]:
    client = web_of(bot, secure_cookies=True).test_client()
    page = client.get("/sign-in", base_url=base_url)
    assert any("Secure" in c for c in page.headers.getlist("Set-Cookie"))
    # What a browser does with a Secure cookie from an http:// page: it does not keep it.
    client.delete_cookie("mailbot_signin", domain="workspace.council.example")
    response = client.post(
        "/sign-in",
        base_url=base_url,
        data={"name": "tess.team", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))},
    )
    assert client.get_cookie("mailbot_session", domain="workspace.council.example") is None
    return response.status_code, response.get_data(as_text=True)


def test_plain_http_says_https_is_needed(bot: App) -> None:
    status, page = _post_without_the_cookie(bot, "http://workspace.council.example")
    assert status == 400
    assert "Signing in needs HTTPS" in page
    assert "put it behind HTTPS" in page and "https://" in page
    assert "This form had expired" not in page


def test_over_https_a_missing_cookie_is_the_usual_message(bot: App) -> None:
    status, page = _post_without_the_cookie(bot, "https://workspace.council.example")
    assert status == 400
    assert "This form had expired" in page and "needs HTTPS" not in page


def test_on_loopback_nothing_changes(bot: App) -> None:
    client = web_of(bot, secure_cookies=False).test_client()
    page = client.get("/sign-in")
    client.delete_cookie("mailbot_signin")
    response = client.post(
        "/sign-in",
        data={"name": "tess.team", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))},
    )
    assert response.status_code == 400
    assert "This form had expired" in response.get_data(as_text=True)


def test_over_https_with_the_cookie_it_signs_in(bot: App) -> None:
    client = web_of(bot, secure_cookies=True).test_client()
    base_url = "https://workspace.council.example"
    page = client.get("/sign-in", base_url=base_url)
    response = client.post(
        "/sign-in",
        base_url=base_url,
        data={"name": "tess.team", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))},
    )
    assert response.status_code == 302
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("mailbot_session="))
    assert "Secure" in cookie
