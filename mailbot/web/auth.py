"""Signing in and out, server-side sessions, roles and CSRF.

The cookie holds a random token; the database holds only its SHA-256, with the user,
the session's CSRF token and when it was last used. A session unused for
``web_idle_minutes`` is ended on its next request (and the user told why); one older
than ``MAX_AGE`` is ended whatever its use. The cookie is HttpOnly, SameSite=Strict,
and Secure unless the workspace is served on loopback only.

A session may be half-way (``stage``): the password was right and the two-step code is
still to come (``totp``), or two-step sign-in must be set up first (``enrol``). Such a
session reaches only those pages and sign-out, lives ``PENDING_MAX`` at most, and is
replaced by a new token once finished.

Every POST carries a CSRF token: the session's own once signed in; before that (the
sign-in form) a double-submit token in a separate cookie. When that cookie did not come
back over plain HTTP while cookies are Secure, the page says so: the workspace must be
served over HTTPS.

Every refused sign-in is refused in the same words and time, logged (account id and
reason, never the name typed or the password) and written to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import delete
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.store.audit import audit
from mailbot.store.models import Case, WebSession, WebUser
from mailbot.web import lockout, totp
from mailbot.web.users import authenticate

COOKIE = "mailbot_session"
CSRF_COOKIE = "mailbot_signin"
MAX_AGE = timedelta(hours=12)
PENDING_MAX = timedelta(minutes=10)
PUBLIC_ENDPOINTS = {"auth.sign_in", "static", "signin.entra_start", "signin.entra_callback"}
#: Where a half-finished sign-in may go, by its stage.
STAGE_ENDPOINTS = {"totp": {"signin.code", "auth.sign_out"}, "enrol": {"signin.two_step", "auth.sign_out"}}
STAGE_HOME = {"totp": "signin.code", "enrol": "signin.two_step"}
REFUSED = (
    "The user name or password is not right, or the account is locked or "
    "disabled. Please try again, or ask an administrator."
)
REASON_WORDS = {
    "unknown": "unknown user name",
    "wrong-password": "wrong password",
    "locked": "account locked",
    "disabled": "account disabled",
    "wrong-code": "wrong two-step code",
    "too-many-codes": "too many wrong codes",
}

log = logging.getLogger("mailbot.web.signin")

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


def mb() -> App:
    app: App = current_app.extensions["mailbot"]
    return app


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _cookie_args() -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "Strict",
        "secure": bool(current_app.config["MAILBOT_SECURE_COOKIES"]),
        "path": "/",
    }


def load_user() -> None:
    """Before each request: who is signed in (``g.user``), ending stale sessions.

    A half-finished sign-in sets ``g.pending_user`` and ``g.stage`` instead of ``g.user``.
    """
    g.user, g.web_session, g.timed_out = None, None, False
    g.pending_user, g.stage = None, None
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
        too_old = now - row.created_at > (PENDING_MAX if row.stage else MAX_AGE)
        if user is None or user.disabled or now - row.last_seen_at > idle or too_old:
            session.delete(row)
            g.timed_out = user is not None and not user.disabled
            return
        row.last_seen_at = now
        session.expunge(user)
        g.csrf_token = row.csrf_token
        g.web_session = row.token_hash
        if row.stage:
            g.pending_user, g.stage = user, row.stage
        else:
            g.user = user


def csrf_token() -> str:
    """The token for this page's forms (a template global)."""
    if g.get("user") is not None or g.get("pending_user") is not None:
        return str(g.csrf_token)
    if "signin_csrf" not in g:
        g.signin_csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    return str(g.signin_csrf)


def check_csrf() -> Any:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    sent = request.form.get("csrf_token", "")
    if g.get("user") is not None or g.get("pending_user") is not None:
        expected = str(g.csrf_token)
    else:
        expected = request.cookies.get(CSRF_COOKIE, "")
        if not expected and cookies_need_https():
            return needs_https_page()
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="csrf")
    return None


def cookies_need_https() -> bool:
    """Our cookies are Secure but this request came over plain HTTP: a browser will not
    have kept them (it keeps Secure cookies only from https:// pages)."""
    return bool(current_app.config["MAILBOT_SECURE_COOKIES"]) and request.scheme == "http"


def needs_https_page() -> Any:
    text = (
        "Your browser did not keep the workspace's sign-in cookie, so you could not be "
        "signed in. The workspace marks its cookies Secure, and browsers keep those only "
        "over HTTPS, but this page came over plain HTTP (an address starting http://). "
        "Ask whoever runs the workspace to put it behind HTTPS, then open it at its "
        "https:// address."
    )
    return render_template("web/error.html", title="Signing in needs HTTPS", text=text, code=400), 400


def require_sign_in() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if g.user is None and g.get("stage"):
        if request.endpoint in STAGE_ENDPOINTS[g.stage]:
            return None
        return redirect(url_for(STAGE_HOME[g.stage]))
    if g.user is None:
        if g.timed_out:
            flash(
                "You were signed out because the workspace was not used for a while. Please sign in again.",
                "info",
            )
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
    """A path on this site, else the start page. Browsers read a backslash as a slash
    ("/\\evil.example" is another site) and ignore tabs and newlines in a URL, so those
    are refused too."""
    if not target:
        return url_for("home")
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)
    ):
        return url_for("home")
    return target


def client_address() -> str:
    """The keyed hash of the client's address (its /64 for IPv6), for the lockout."""
    return lockout.address_key(mb().vault, request.remote_addr)


def start_session(session: Session, user: WebUser, now: Any, *, stage: str | None = None) -> str:
    """A new session for ``user`` (full, or half-way at ``stage``); its cookie token."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            stage=stage,
            code_failures=0,
        )
    )
    return token


def end_this_session(session: Session) -> None:
    if g.get("web_session"):
        session.execute(delete(WebSession).where(WebSession.token_hash == g.web_session))


def refused(
    session: Session, now: Any, reason: str, user: WebUser | None, address: str, *, who: str | None = None
) -> None:
    """Log and audit a refused sign-in: the account's id (or that the name is unknown).

    Neither the log nor the audit gets the name typed (it may be a password typed in the
    wrong box) or the password; the audit names the account when there is one.
    """
    log.warning(
        "sign-in refused",
        extra={"account": user.id if user else "unknown", "reason": reason, "address": address[:12]},
    )
    who = who or (f"user {user.name}" if user else "an unknown user name")
    audit(
        session, now, "workspace", "user.sign_in_refused", detail=f"{who}: {REASON_WORDS.get(reason, reason)}"
    )


def signed_in(user: WebUser, token: str, target: str | None) -> Any:
    response = redirect(_safe_next(target))
    response.set_cookie(COOKIE, token, **_cookie_args())
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if g.user is not None and request.method == "GET":
        return redirect(url_for("home"))
    error = None
    status = 200
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        if name and password:
            outcome = _check_password(name, password)
            if outcome is not None:
                return outcome
        error = REFUSED
        status = 401
    response = current_app.make_response(
        (render_template("web/sign_in.html", error=error, next=request.values.get("next", "")), status)
    )
    response.set_cookie(CSRF_COOKIE, csrf_token(), **_cookie_args())
    return response


def _check_password(name: str, password: str) -> Any:
    """A response when the password was right (signed in, or on to the second step)."""
    app = mb()
    now = app.clock.now()
    address = client_address()
    rule = current_app.config.get("MAILBOT_LOCKOUT", lockout.RULE)
    with app.db.session() as session:
        verdict = authenticate(session, name, password, now, address=address, rule=rule)
        user = verdict.user
        if user is None:
            refused(
                session,
                now,
                verdict.reason,
                session.get(WebUser, verdict.account_id) if verdict.account_id else None,
                address,
            )
            return None
        rule_for_user = totp.policy(app.settings, user)
        stage = None
        if rule_for_user != "off" and totp.enrolled(session, user.id):
            stage = "totp"
        elif rule_for_user == "required":
            stage = "enrol"
        end_this_session(session)
        token = start_session(session, user, now, stage=stage)
        if stage is None:
            audit(session, now, user.name, "user.signed_in", detail="password")
    if stage is None:
        return signed_in(user, token, request.form.get("next"))
    target = url_for(STAGE_HOME[stage], next=request.form.get("next") or None)
    response = redirect(target)
    response.set_cookie(COOKIE, token, **_cookie_args())
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Any:
    app = mb()
    with app.db.session() as session:
        end_this_session(session)
        if g.user is not None:
            audit(session, app.clock.now(), g.user.name, "user.signed_out")
    flash("You have signed out.", "info")
    response = redirect(url_for("auth.sign_in"))
    response.delete_cookie(COOKIE, path="/")
    return response
