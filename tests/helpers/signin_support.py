"""Shared set-up for the sign-in tests: a bot with three workspace users and no cases.

``signin_app`` makes the bot (SQLite unless a database URL is given, settings as keyword
arguments), ``web_of`` its Flask app, ``sign_in`` posts the form from a given address.
(``signin_workers.wrong_guesses`` is what the parallel-burst tests run in other processes.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from helpers.bot import make_app
from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.web import lockout, users
from mailbot.web.factory import create_app

PASSWORD = "correct horse battery"
USERS = (("tess.team", "team"), ("sam.sprg", "sprg"), ("ada.admin", "admin"))


def signin_app(tmp_path: Path, clock: FixedClock, database_url: str | None = None, **settings: str) -> App:
    url = database_url or f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    app = make_app(tmp_path, url, clock, **settings)
    with app.db.session() as session:
        for name, role in USERS:
            users.add_user(session, name, role, PASSWORD, clock.now())
    return app


def web_of(app: App, *, secure_cookies: bool = False, rule: lockout.LockoutRule | None = None) -> Flask:
    web = create_app(app, secure_cookies=secure_cookies)
    web.config["TESTING"] = True
    if rule is not None:
        web.config["MAILBOT_LOCKOUT"] = rule
    return web


def client_from(web: Flask, address: str = "127.0.0.1", **kwargs: Any) -> FlaskClient:
    client = web.test_client(**kwargs)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: FlaskClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={"name": name, "password": password, "csrf_token": csrf_of(page.get_data(as_text=True))},
    )


def post_form(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    """POST with the CSRF token of the page at ``url``."""
    html = client.get(url).get_data(as_text=True)
    return client.post(url, data={**data, "csrf_token": csrf_of(html)})


def secret_of(page: str) -> str:
    match = re.search(r'id="secret">([A-Z2-7 ]+)<', page)
    assert match, "no secret on the page"
    return match.group(1).replace(" ", "")


def enrol_two_step(client: FlaskClient, clock: FixedClock) -> tuple[str, list[str]]:
    page = client.get("/account/two-step").get_data(as_text=True)
    secret = secret_of(page)
    response = client.post(
        "/account/two-step", data={"code": pyotp.TOTP(secret).at(clock.now()), "csrf_token": csrf_of(page)}
    )
    assert response.status_code == 200
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", response.get_data(as_text=True))
    return secret, codes


def code_step(client: FlaskClient, code: str) -> Any:
    page = client.get("/sign-in/code").get_data(as_text=True)
    return client.post("/sign-in/code", data={"code": code, "csrf_token": csrf_of(page)})
