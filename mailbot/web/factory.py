"""The Flask application: one factory, given the bot's ``App`` (STYLE.md: wire in one place).

Every page but sign-in needs a signed-in user; every POST needs the CSRF token; every
response says not to cache it (the pages hold personal data) and carries a strict
Content-Security-Policy (the workspace uses no JavaScript at all).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from importlib import resources
from typing import Any

from flask import Flask, Response, g, redirect, render_template, url_for
from jinja2 import StrictUndefined
from werkzeug.exceptions import HTTPException

from mailbot.app import App
from mailbot.cases.search import SearchIndex
from mailbot.cases.status import CaseStatus
from mailbot.clock import london, show_time
from mailbot.errors import MailbotError, NotFound, UsageError
from mailbot.web import auth

#: The status words as the workspace shows them (capitalised, from the one table).
STATUS_WORDS = {s.value: s.heading for s in CaseStatus}
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _day(value: str | date | datetime | None) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        value = london(value).date()
    return value.strftime("%d/%m/%Y")


def _when(value: str | datetime | None) -> str:
    if not value:
        return "-"
    return show_time(datetime.fromisoformat(value) if isinstance(value, str) else value)


def create_app(bot: App, *, secure_cookies: bool = True) -> Flask:
    folder = resources.files("mailbot")
    web = Flask(
        "mailbot.web",
        template_folder=str(folder / "templates"),
        static_folder=str(folder / "static"),
        static_url_path="/static",
    )
    web.extensions["mailbot"] = bot
    web.extensions["mailbot_search"] = SearchIndex()
    web.secret_key = secrets.token_bytes(32)  # signs only the flash messages' cookie
    web.config.update(
        MAILBOT_SECURE_COOKIES=secure_cookies,
        SESSION_COOKIE_NAME="mailbot_flash",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure_cookies,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=0,
    )
    web.jinja_env.undefined = StrictUndefined
    web.jinja_env.filters.update(day=_day, when=_when, status_words=lambda s: STATUS_WORDS.get(s, s))
    web.jinja_env.globals.update(csrf_token=auth.csrf_token, STATUS_WORDS=STATUS_WORDS)
    web.before_request(auth.load_user)
    web.before_request(auth.check_csrf)
    web.before_request(auth.require_sign_in)
    web.after_request(_headers)
    _register(web)

    @web.route("/")
    def home() -> Any:
        role = g.user.role
        target = {"team": "queue.queue", "sprg": "meetings.index", "admin": "admin.users"}
        return redirect(url_for(target.get(role, "auth.sign_in")))

    web.register_error_handler(HTTPException, _http_error)
    web.register_error_handler(NotFound, lambda e: _error_page(404, str(e)))
    web.register_error_handler(UsageError, lambda e: _error_page(400, str(e)))
    web.register_error_handler(
        MailbotError, lambda e: _error_page(500, "Something went wrong. Please try again.")
    )
    return web


def _register(web: Flask) -> None:
    from mailbot.web import signin
    from mailbot.web.pages import (
        actions,
        admin,
        audit,
        cases,
        casework,
        held,
        incidents,
        meetings,
        queue,
        report,
        trends,
    )

    web.register_blueprint(auth.bp)
    web.register_blueprint(signin.bp)
    web.register_blueprint(queue.bp)
    web.register_blueprint(cases.bp)
    web.register_blueprint(casework.bp)
    web.register_blueprint(held.bp)
    web.register_blueprint(audit.bp)
    web.register_blueprint(meetings.bp)
    web.register_blueprint(incidents.bp)
    web.register_blueprint(actions.bp)
    web.register_blueprint(report.bp)
    web.register_blueprint(trends.bp)
    web.register_blueprint(admin.bp)


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if "Cache-Control" not in response.headers or not response.headers["Cache-Control"]:
        response.headers["Cache-Control"] = "no-store"
    return response


MESSAGES = {
    400: (
        "The request could not be used",
        "Something in the form was not right. Please go back and try again.",
    ),
    403: (
        "You do not have access to this page",
        "Your account cannot open this page. If you need it, ask the CSCP team.",
    ),
    404: ("Page not found", "There is nothing at this address. Check the reference."),
    405: ("The request could not be used", "Please use the buttons on the page."),
    413: ("The form was too large", "Please send less at once."),
}


def _http_error(exc: HTTPException) -> Any:
    code = exc.code or 500
    if code == 400 and exc.description == "csrf":
        return _error_page(
            400,
            "This form had expired or did not come from this workspace, so "
            "nothing was changed. Please go back, reload the page and try "
            "again.",
            title="The form could not be accepted",
        )
    title, text = MESSAGES.get(code, ("Something went wrong", "Please try again."))
    return _error_page(code, text, title=title)


def _error_page(code: int, text: str, *, title: str | None = None) -> Any:
    title = title or MESSAGES.get(code, ("Something went wrong", ""))[0]
    return render_template("web/error.html", title=title, text=text, code=code), code
