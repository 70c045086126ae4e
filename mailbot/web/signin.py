"""Sign-in pages beyond the password: the two-step code, setting two-step sign-in up, and
signing in with Microsoft Entra ID.

Registered by ``mailbot.web.factory`` (``web.register_blueprint(signin.bp)``); on
registration it checks ``web.totp`` and the ``web.oidc_*`` settings (a bad value stops
``mailbot serve`` with the setting's name) and makes the OpenID provider client.

After Entra ID sends the browser back, the session cookie (SameSite=Strict) would not be
sent on a redirect that is still part of that cross-site navigation, so the callback
answers with a short page that moves on by itself (``Refresh``), from our own origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from sqlalchemy import delete, update

from mailbot.store.audit import audit
from mailbot.store.models import WebOidcFlow, WebSession, WebUser
from mailbot.web import lockout, oidc, totp
from mailbot.web.auth import (
    COOKIE,
    CSRF_COOKIE,
    _cookie_args,
    _safe_next,
    client_address,
    cookies_need_https,
    end_this_session,
    mb,
    needs_https_page,
    refused,
    signed_in,
    start_session,
)

bp = Blueprint("signin", __name__)

OIDC_COOKIE = "mailbot_entra"
FLOW_MAX_SECONDS = 600
MAX_CODE_FAILURES = 5
EXTENSION = "mailbot_oidc"
WRONG_CODE = (
    "The code is not right, or it has been used already. Please type the newest "
    "code from your authenticator app, or one of your recovery codes."
)


def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    settings = app.extensions["mailbot"].settings
    totp.check_setting(settings)
    config = oidc.config_from(settings)
    if config is not None:
        app.extensions[EXTENSION] = oidc.Provider(config, app.extensions["mailbot"].clock)


bp.record_once(_setup)


def provider() -> oidc.Provider | None:
    found: oidc.Provider | None = current_app.extensions.get(EXTENSION)
    return found


@bp.app_context_processor
def _template_values() -> dict[str, Any]:
    """``entra_offered``: show "Sign in with Microsoft"; ``two_step_offered``: the signed-in
    user may open the two-step sign-in page (for a link in the page header)."""
    user = g.get("user")
    return {
        "entra_offered": provider() is not None,
        "two_step_offered": user is not None and totp.policy(mb().settings, user) != "off",
    }


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# -- the second step: a code from the app, or a recovery code --------------------------


@bp.route("/sign-in/code", methods=["GET", "POST"])
def code() -> Any:
    if g.user is not None:
        return redirect(url_for("home"))
    user: WebUser = g.pending_user
    error = None
    if request.method == "POST":
        outcome = _check_code(user, request.form.get("code", ""))
        if outcome is not None:
            return outcome
        error = WRONG_CODE
    return render_template("web/sign_in_code.html", error=error, next=request.values.get("next", "")), (
        401 if error else 200
    )


def _check_code(user: WebUser, given: str) -> Any:
    app = mb()
    now = app.clock.now()
    address = client_address()
    rule = current_app.config.get("MAILBOT_LOCKOUT", lockout.RULE)
    recovery = totp.looks_like_recovery_code(given)
    with app.db.session() as session:
        locked = lockout.is_locked(session, user.id, address, now, rule)
        if locked:
            right = False
        elif recovery:
            right = totp.use_recovery_code(session, app.vault, user.id, given, now)
        else:
            right = totp.verify(session, app.vault, user.id, given, now)
        if right:
            lockout.record_success(session, user.id, address, now)
            end_this_session(session)
            token = start_session(session, user, now)
            how = "password and a recovery code" if recovery else "password and two-step code"
            audit(session, now, user.name, "user.signed_in", detail=how)
            left = totp.recovery_codes_left(session, user.id)
        else:
            lockout.record_failure(session, user.id, address, now, count_account=not locked, rule=rule)
            failures = (
                session.execute(
                    update(WebSession)
                    .where(WebSession.token_hash == g.web_session)
                    .values(code_failures=WebSession.code_failures + 1)
                    .returning(WebSession.code_failures)
                    .execution_options(synchronize_session=False)
                ).scalar_one_or_none()
                or 0
            )
            give_up = locked or failures >= MAX_CODE_FAILURES
            refused(session, now, "too-many-codes" if give_up else "wrong-code", user, address)
            if give_up:
                end_this_session(session)
    if right:
        if recovery:
            flash(
                f"You used a recovery code; {left} left. If you no longer have your "
                "authenticator app, ask an administrator to reset your account.",
                "info",
            )
        return signed_in(user, token, request.form.get("next"))
    if give_up:
        flash("Too many codes were not right, so this sign-in has ended. Please sign in again.", "info")
        response = redirect(url_for("auth.sign_in"))
        response.delete_cookie(COOKIE, path="/")
        return response
    return None


# -- setting up two-step sign-in -----------------------------------------------------------


@bp.route("/account/two-step", methods=["GET", "POST"])
def two_step() -> Any:
    user: WebUser = g.user or g.pending_user
    app = mb()
    rule_for_user = totp.policy(app.settings, user)
    if rule_for_user == "off":
        abort(404)
    now = app.clock.now()
    error = None
    with app.db.session() as session:
        if totp.enrolled(session, user.id):
            if g.user is None:  # half-way, but set up meanwhile (another tab): sign in again
                end_this_session(session)
                return redirect(url_for("auth.sign_in"))
            return render_template(
                "web/two_step.html",
                enrolled=True,
                required=rule_for_user == "required",
                left=totp.recovery_codes_left(session, user.id),
            )
        secret = totp.pending_secret(session, app.vault, user, now)
    if request.method == "POST":
        outcome = _confirm(user, request.form.get("code", ""))
        if outcome is not None:
            return outcome
        error = (
            "The code is not right. Please type the 6 digits your authenticator app shows "
            "now for this workspace."
        )
    uri = totp.provisioning_uri(secret, user.name)
    return render_template(
        "web/two_step.html",
        enrolled=False,
        required=rule_for_user == "required",
        qr=totp.qr_svg(uri, "QR code to scan with an authenticator app"),
        secret=totp.grouped(secret),
        error=error,
        next=request.values.get("next", ""),
    ), (400 if error else 200)


def _confirm(user: WebUser, given: str) -> Any:
    app = mb()
    now = app.clock.now()
    token = None
    with app.db.session() as session:
        codes = totp.confirm(session, app.vault, user.id, given, now)
        if codes is None:
            return None
        audit(session, now, user.name, "user.two_step_set_up")
        if g.user is None:  # finishing a sign-in: now a full session, with a new token
            lockout.record_success(session, user.id, client_address(), now)
            end_this_session(session)
            token = start_session(session, user, now)
            audit(session, now, user.name, "user.signed_in", detail="password, two-step set up")
    target = _safe_next(request.form.get("next"))
    response = current_app.make_response(
        render_template("web/two_step_codes.html", codes=codes, target=target, signing_in=token is not None)
    )
    if token is not None:
        response.set_cookie(COOKIE, token, **_cookie_args())
        response.delete_cookie(CSRF_COOKIE, path="/")
    return response


# -- Microsoft Entra ID ---------------------------------------------------------------------


def _redirect_uri() -> str:
    """Our callback address: https, except on this machine (Entra allows http only there)."""
    host = (request.host or "").rsplit(":", 1)[0].strip("[]")
    local = host in ("localhost", "::1") or host.startswith("127.")
    return url_for("signin.entra_callback", _external=True, _scheme=request.scheme if local else "https")


def _error(text: str, code: int, title: str = "You are not signed in") -> Any:
    return render_template("web/error.html", title=title, text=text, code=code), code


@bp.route("/sign-in/entra")
def entra_start() -> Any:
    found = provider()
    if found is None:
        abort(404)
    app = mb()
    now = app.clock.now()
    state, nonce, verifier = (secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64))
    browser = secrets.token_urlsafe(32)
    try:
        url = found.authorization_url(_redirect_uri(), state, nonce, verifier)
    except oidc.OidcError as exc:
        return _error(str(exc), 502)
    with app.db.session() as session:
        session.execute(delete(WebOidcFlow).where(WebOidcFlow.created_at < now - _flow_age()))
        session.add(
            WebOidcFlow(
                state_hash=_sha(state),
                browser_hash=_sha(browser),
                code_verifier=verifier,
                nonce=nonce,
                next_url=_safe_next(request.args.get("next"))[:512],
                created_at=now,
            )
        )
    response = redirect(url)
    response.set_cookie(
        OIDC_COOKIE,
        browser,
        max_age=FLOW_MAX_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config["MAILBOT_SECURE_COOKIES"]),
        path="/sign-in/entra",
    )
    return response


def _flow_age() -> timedelta:
    return timedelta(seconds=FLOW_MAX_SECONDS)


@bp.route("/sign-in/entra/callback")
def entra_callback() -> Any:
    found = provider()
    if found is None:
        abort(404)
    app = mb()
    now = app.clock.now()
    address = client_address()
    browser = request.cookies.get(OIDC_COOKIE, "")
    state = request.args.get("state", "")
    if not browser and cookies_need_https():
        return needs_https_page()
    with app.db.session() as session:
        flow = session.get(WebOidcFlow, _sha(state)) if state else None
        if flow is not None:
            session.delete(flow)  # each sign-in's state is used once
        ours = (
            flow is not None
            and bool(browser)
            and hmac.compare_digest(_sha(browser), flow.browser_hash)
            and now - flow.created_at <= _flow_age()
        )
        if not ours:
            _refused_entra(session, now, oidc.OidcError("", "no matching sign-in started here"), address)
    if not ours or flow is None:
        return _error(
            "This sign-in with Microsoft had expired, or did not start in this "
            "browser. Please start again from the sign-in page.",
            400,
        )
    if request.args.get("error") or not request.args.get("code"):
        with app.db.session() as session:
            _refused_entra(session, now, oidc.OidcError("", "provider returned an error"), address)
        return _error(
            "Microsoft sign-in did not finish, so you are not signed in. Please try "
            "again, or ask an administrator.",
            401,
        )
    try:
        claims = found.redeem(request.args["code"], _redirect_uri(), flow.code_verifier, flow.nonce)
        with app.db.session() as session:
            user = oidc.user_for(session, found.config, claims, now)
            token = start_session(session, user, now)
            audit(session, now, user.name, "user.signed_in", detail="Entra ID")
    except oidc.OidcError as exc:
        with app.db.session() as session:
            _refused_entra(session, now, exc, address)
        return _error(
            str(exc),
            403
            if exc.reason in ("no role maps", "account disabled", "name taken by another account")
            else 401,
        )
    response = current_app.make_response(render_template("web/signed_in.html", target=flow.next_url))
    response.headers["Refresh"] = f"0; url={flow.next_url}"
    response.set_cookie(COOKIE, token, **_cookie_args())
    response.delete_cookie(OIDC_COOKIE, path="/sign-in/entra")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


def _refused_entra(session: Any, now: Any, exc: oidc.OidcError, address: str) -> None:
    refused(session, now, f"Entra ID: {exc.reason}", None, address, who="a sign-in with Entra ID")
