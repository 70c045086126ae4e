"""Signing in and out, server-side sessions, roles and CSRF.

The cookie holds a random token; the database holds only its SHA-256, with the user,
the session's CSRF token and when it was last used. A session unused for
``web_idle_minutes`` is ended on its next request (and the user told why); one older
than ``MAX_AGE`` is ended whatever its use. The cookie is HttpOnly, SameSite=Strict,
and Secure unless the workspace is served on loopback only.

Every POST carries a CSRF token: the session's own once signed in; before that (the
sign-in form) a double-submit token in a separate cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import delete

from mailbot.app import App
from mailbot.store.audit import audit
from mailbot.store.models import Case, WebSession, WebUser
from mailbot.web.users import authenticate

COOKIE = "mailbot_session"
CSRF_COOKIE = "mailbot_signin"
MAX_AGE = timedelta(hours=12)
PUBLIC_ENDPOINTS = {"auth.sign_in", "static"}

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


def mb() -> App:
    app: App = current_app.extensions["mailbot"]
    return app


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _cookie_args() -> dict[str, Any]:
    return {"httponly": True, "samesite": "Strict",
            "secure": bool(current_app.config["MAILBOT_SECURE_COOKIES"]), "path": "/"}


def load_user() -> None:
    """Before each request: who is signed in (``g.user``), ending stale sessions."""
    g.user, g.web_session, g.timed_out = None, None, False
    token = request.cookies.get(COOKIE)
    if not token:
        return
    app = mb()
    now = app.clock.now()
    with app.db.session() as session:
        row = session.get(WebSession, _hash(token))
        if row is None:
            return
        user = session.get(WebUser, row.user_id)
        idle = timedelta(minutes=app.settings.web_idle_minutes)
        if user is None or user.disabled or now - row.last_seen_at > idle \
                or now - row.created_at > MAX_AGE:
            session.delete(row)
            g.timed_out = user is not None and not user.disabled
            return
        row.last_seen_at = now
        session.expunge(user)
        g.user = user
        g.csrf_token = row.csrf_token
        g.web_session = row.token_hash


def csrf_token() -> str:
    """The token for this page's forms (a template global)."""
    if g.get("user") is not None:
        return str(g.csrf_token)
    if "signin_csrf" not in g:
        g.signin_csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    return str(g.signin_csrf)


def check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get("csrf_token", "")
    if g.get("user") is not None:
        expected = str(g.csrf_token)
    else:
        expected = request.cookies.get(CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="csrf")


def require_sign_in() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if g.user is None:
        if g.timed_out:
            flash("You were signed out because the workspace was not used for a while. "
                  "Please sign in again.", "info")
        target = request.full_path if request.method == "GET" else request.path
        return redirect(url_for("auth.sign_in", next=target.rstrip("?")))
    return None


def requires(*roles: str) -> Callable[[F], F]:
    """Only these roles may use the view; anyone else gets 403."""
    def wrap(view: F) -> F:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if g.user is None or g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return inner  # type: ignore[return-value]
    return wrap


def may_read_case(user: WebUser, case: Case) -> bool:
    """Team: every case. SPRG members: only cases on a meeting's agenda."""
    if user.role == "team":
        return True
    return user.role == "sprg" and on_agenda(case)


def on_agenda(case: Case) -> bool:
    return case.meeting_date is not None and case.status in ("scheduled", "decided")


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if g.user is not None and request.method == "GET":
        return redirect(url_for("home"))
    error = None
    status = 200
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        app = mb()
        now = app.clock.now()
        with app.db.session() as session:
            user = authenticate(session, name, password, now) if name and password else None
            if user is not None:
                token = secrets.token_urlsafe(32)
                session.add(WebSession(token_hash=_hash(token), user_id=user.id,
                                       csrf_token=secrets.token_urlsafe(32), created_at=now,
                                       last_seen_at=now))
                audit(session, now, user.name, "user.signed_in")
        if user is not None:
            response = redirect(_safe_next(request.form.get("next")))
            response.set_cookie(COOKIE, token, **_cookie_args())
            response.delete_cookie(CSRF_COOKIE, path="/")
            return response
        error = ("The user name or password is not right, or the account is locked or "
                 "disabled. Please try again, or ask an administrator.")
        status = 401
    response = current_app.make_response((render_template(
        "web/sign_in.html", error=error, next=request.values.get("next", "")), status))
    response.set_cookie(CSRF_COOKIE, csrf_token(), **_cookie_args())
    return response


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Any:
    app = mb()
    with app.db.session() as session:
        if g.web_session:
            session.execute(delete(WebSession).where(WebSession.token_hash == g.web_session))
        if g.user is not None:
            audit(session, app.clock.now(), g.user.name, "user.signed_out")
    flash("You have signed out.", "info")
    response = redirect(url_for("auth.sign_in"))
    response.delete_cookie(COOKIE, path="/")
    return response
