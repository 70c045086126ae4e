"""Shared set-up for the workspace tests: a bot with cases, users, and the Flask app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from helpers.bot import eml, make_app
from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.web import users
from mailbot.web.factory import create_app

PASSWORD = "correct horse battery"
#: Delivered in this order: COC-2026-0001 complete, -0002 incomplete, -0003 no form,
#: -0004 and -0005 two forms in one e-mail (both files kept with -0004), and one
#: message held in quarantine (DMARC fail).
SEED = (
    "mail-01-referral-complete",
    "mail-02-referral-incomplete",
    "mail-11-no-attachment",
    "mail-15-two-forms",
    "mail-17-dmarc-fail",
)
MEETINGS = "2026-10-29,2026-11-26"


def seeded_app(tmp_path: Path, clock: FixedClock, database_url: str | None = None, **extra: str) -> App:
    """The seeded bot, on SQLite in ``tmp_path`` unless given another database."""
    settings = {
        "MAILBOT_SPRG_MEETINGS": MEETINGS,
        "MAILBOT_SPRG_MEMBERS": "sprg1@example.org",
        "MAILBOT_WEB_TOTP": "off",
        **extra,
    }
    url = database_url or f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    app = make_app(tmp_path, url, clock, **settings)
    for name in SEED:
        app.mailbox.append(eml(name))
    Poller(app).cycle()
    with app.db.session() as session:
        for name, role in (("tess.team", "team"), ("sam.sprg", "sprg"), ("ada.admin", "admin")):
            users.add_user(session, name, role, PASSWORD, clock.now())
    return app


def web_app(app: App) -> Flask:
    web = create_app(app, secure_cookies=False)
    web.config["TESTING"] = True
    return web


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


def post(client: FlaskClient, url: str, data: dict[str, Any], *, page: str | None = None) -> Any:
    """POST with the CSRF token of ``page`` (default: the page at ``url``)."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={**data, "csrf_token": csrf_of(html)})
