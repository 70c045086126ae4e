"""Signing in with Microsoft Entra ID (OpenID Connect), against a local fake provider.

The whole flow through Flask's test client: the workspace sends the browser to the
provider (PKCE S256, state, nonce), the provider sends it back with a code, the workspace
redeems it and checks the ID token (signature by the JWKS key, issuer, audience, nonce,
expiry), maps the role, and signs the user in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from helpers.fake_oidc import CLIENT_ID, FakeOidc, running
from helpers.signin_support import PASSWORD, client_from, sign_in, signin_app, web_of
from sqlalchemy import select

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.errors import ConfigError
from mailbot.settings import load_settings
from mailbot.store.models import AuditEntry, WebOidcFlow, WebUser
from mailbot.web import oidc, users


@pytest.fixture
def provider(clock: FixedClock) -> Iterator[FakeOidc]:
    with running(clock.now) as fake:
        yield fake


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock, provider: FakeOidc) -> Iterator[App]:
    app = signin_app(tmp_path, clock, **provider.settings())
    yield app
    app.close()


@pytest.fixture
def web(bot: App) -> Flask:
    return web_of(bot)


def start(client: FlaskClient, next_url: str | None = None) -> str:
    """Press "Sign in with Microsoft"; the provider's answer (the callback URL)."""
    response = client.get("/sign-in/entra" + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302
    authorize = response.headers["Location"]
    answer = requests.get(authorize, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])


def come_back(client: FlaskClient, callback: str) -> Any:
    parts = urlsplit(callback)
    return client.get(parts.path + "?" + parts.query)


def entra_sign_in(client: FlaskClient, next_url: str | None = None) -> Any:
    return come_back(client, start(client, next_url))


def _user(bot: App, name: str) -> WebUser | None:
    with bot.db.session() as session:
        return users.by_name(session, name)


def test_sign_in_with_entra_creates_the_user_with_the_mapped_role(
    web: Flask, bot: App, provider: FakeOidc
) -> None:
    client = client_from(web)
    page = client.get("/sign-in").get_data(as_text=True)
    assert "Sign in with Microsoft" in page
    response = client.get("/sign-in/entra?next=/meetings")
    authorize = urlsplit(response.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert authorize.path == "/oauth2/v2.0/authorize"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["client_id"] == CLIENT_ID and "openid" in query["scope"].split()
    assert query["redirect_uri"] == "http://localhost/sign-in/entra/callback"
    assert "code_verifier" not in query  # only its hash goes through the browser
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("mailbot_entra="))
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Path=/sign-in/entra" in cookie

    answer = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    done = come_back(client, answer.headers["Location"])
    assert done.status_code == 200
    assert done.headers["Refresh"] == "0; url=/meetings"
    assert "You are signed in" in done.get_data(as_text=True)
    assert client.get("/queue").status_code == 200
    user = _user(bot, "ada.lovelace@croydon.example")
    assert user is not None and user.role == "team" and user.source == "oidc"
    assert user.oidc_subject == oidc.subject_key({"iss": provider.issuer, "sub": "subject-ada"})
    assert provider.requests.count("POST /oauth2/v2.0/token") == 1
    with bot.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.signed_in")).one()
        assert (entry.actor, entry.detail) == ("ada.lovelace@croydon.example", "Entra ID")
        assert session.scalars(select(WebOidcFlow)).all() == []  # used once, then gone


def test_the_role_follows_entra_at_each_sign_in(web: Flask, bot: App, provider: FakeOidc) -> None:
    entra_sign_in(client_from(web))
    provider.user["roles"] = ["Something.Else", "CSCP.Admin"]
    client = client_from(web)
    entra_sign_in(client)
    assert client.get("/admin/users").status_code == 200
    with bot.db.session() as session:
        found = session.scalars(select(WebUser).where(WebUser.source == "oidc")).all()
    assert [(u.name, u.role) for u in found] == [("ada.lovelace@croydon.example", "admin")]
    # No role any more: refused, in plain words.
    provider.user["roles"] = []
    refused = entra_sign_in(client_from(web))
    assert refused.status_code == 403
    assert "has no role in this workspace" in refused.get_data(as_text=True)


def test_no_role_no_account(web: Flask, bot: App, provider: FakeOidc) -> None:
    provider.user["roles"] = ["Some.Other.App"]
    client = client_from(web)
    response = entra_sign_in(client)
    assert response.status_code == 403
    assert "has no role in this workspace" in response.get_data(as_text=True)
    assert client.get_cookie("mailbot_session") is None
    assert _user(bot, "ada.lovelace@croydon.example") is None
    with bot.db.session() as session:
        details = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "user.sign_in_refused")
        ).all()
    assert details == ["a sign-in with Entra ID: Entra ID: no role maps"]


def test_roles_from_groups(tmp_path: Path, clock: FixedClock, provider: FakeOidc) -> None:
    group = "0b9c5a1e-7f43-4c8e-9d1a-2f6b3e4d5c6a"
    app = signin_app(
        tmp_path, clock, **provider.settings(), MAILBOT_WEB_OIDC_ROLES=f"sprg={group.upper()},team=CSCP.Team"
    )
    try:
        provider.user.update(roles=None, groups=["another-group", group])
        client = client_from(web_of(app))
        assert entra_sign_in(client).status_code == 200
        assert client.get("/meetings").status_code == 200
        assert client.get("/queue").status_code == 403
    finally:
        app.close()


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"aud": "someone-else"}, "invalid_claim aud"),
        ({"iss": "https://login.microsoftonline.com/another-tenant/v2.0"}, "invalid_claim iss"),
        ({"nonce": "a-nonce-from-another-sign-in"}, "invalid_claim nonce"),
        ({"exp": 1}, "expired_token exp"),
        ({"sub": None}, "missing_claim sub"),
        ({"foreign_key": True}, "bad_signature"),
    ],
)
def test_an_untrustworthy_id_token_is_refused(
    web: Flask, bot: App, provider: FakeOidc, change: dict[str, Any], expected: str
) -> None:
    if change.pop("foreign_key", False):
        provider.foreign_key = True
    provider.tamper = change
    client = client_from(web)
    response = entra_sign_in(client)
    assert response.status_code == 401, expected
    assert "could not be trusted" in response.get_data(as_text=True)
    assert client.get_cookie("mailbot_session") is None
    with bot.db.session() as session:
        assert session.scalars(select(WebUser).where(WebUser.source == "oidc")).all() == []
        detail = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "user.sign_in_refused")
        ).one()
    assert detail == f"a sign-in with Entra ID: Entra ID: ID token refused ({expected})"


def test_the_callback_must_come_back_to_the_browser_that_started(web: Flask) -> None:
    starter, other = client_from(web), client_from(web)
    callback = start(starter)
    response = come_back(other, callback)  # e.g. a link sent to a victim: login CSRF
    assert response.status_code == 400
    assert "did not start in this browser" in response.get_data(as_text=True)
    assert other.get_cookie("mailbot_session") is None
    # And the state is spent: the starter cannot use it now either.
    assert come_back(starter, callback).status_code == 400


def test_a_callback_is_used_once(web: Flask) -> None:
    client = client_from(web)
    callback = start(client)
    assert come_back(client, callback).status_code == 200
    assert come_back(client, callback).status_code == 400


def test_the_provider_saying_no(web: Flask, provider: FakeOidc) -> None:
    provider.deny = True
    client = client_from(web)
    response = entra_sign_in(client)
    assert response.status_code == 401
    assert "did not finish" in response.get_data(as_text=True)
    assert "The user said no" not in response.get_data(as_text=True)


def test_an_entra_account_has_no_password_here(web: Flask, bot: App) -> None:
    entra_sign_in(client_from(web))
    assert sign_in(client_from(web), "ada.lovelace@croydon.example", "!").status_code == 401
    assert sign_in(client_from(web), "ada.lovelace@croydon.example", PASSWORD).status_code == 401


def test_a_local_account_is_never_taken_over_by_name(web: Flask, bot: App, provider: FakeOidc) -> None:
    provider.user["preferred_username"] = "tess.team"
    response = entra_sign_in(client_from(web))
    assert response.status_code == 403
    assert "not linked to your Microsoft account" in response.get_data(as_text=True)
    tess = _user(bot, "tess.team")
    assert tess is not None and tess.source == "local" and tess.oidc_subject is None


def test_a_disabled_entra_account_is_refused(web: Flask, bot: App) -> None:
    entra_sign_in(client_from(web))
    with bot.db.session() as session:
        users.disable_user(session, "ada.lovelace@croydon.example")
    assert entra_sign_in(client_from(web)).status_code == 403


def test_no_button_and_no_route_without_settings(tmp_path: Path, clock: FixedClock) -> None:
    app = signin_app(tmp_path, clock)
    try:
        client = client_from(web_of(app))
        assert "Sign in with Microsoft" not in client.get("/sign-in").get_data(as_text=True)
        assert client.get("/sign-in/entra").status_code == 404
    finally:
        app.close()


def test_an_unreachable_provider_is_said_plainly(tmp_path: Path, clock: FixedClock) -> None:
    fake = FakeOidc(clock.now)
    fake.start()
    settings = fake.settings()
    fake.stop()
    app = signin_app(tmp_path, clock, **settings)
    try:
        response = client_from(web_of(app)).get("/sign-in/entra")
        assert response.status_code == 502
        assert "cannot be reached just now" in response.get_data(as_text=True)
    finally:
        app.close()


@pytest.mark.parametrize(
    "env, setting",
    [
        ({"MAILBOT_WEB_OIDC_TENANT": "t"}, "MAILBOT_WEB_OIDC_CLIENT_ID"),
        ({"MAILBOT_WEB_OIDC_CLIENT_ID": "c"}, "MAILBOT_WEB_OIDC_TENANT"),
        ({"MAILBOT_WEB_OIDC_TENANT": "common", "MAILBOT_WEB_OIDC_CLIENT_ID": "c"}, "MAILBOT_WEB_OIDC_TENANT"),
        (
            {
                "MAILBOT_WEB_OIDC_TENANT": "t",
                "MAILBOT_WEB_OIDC_CLIENT_ID": "c",
                "MAILBOT_WEB_OIDC_AUTHORITY": "http://login.example.org/t/v2.0",
            },
            "MAILBOT_WEB_OIDC_AUTHORITY",
        ),
        (
            {
                "MAILBOT_WEB_OIDC_TENANT": "t",
                "MAILBOT_WEB_OIDC_CLIENT_ID": "c",
                "MAILBOT_WEB_OIDC_ROLES": "team=CSCP.Team,boss=CSCP.Boss",
            },
            "MAILBOT_WEB_OIDC_ROLES",
        ),
    ],
)
def test_settings_are_checked(tmp_path: Path, env: dict[str, str], setting: str) -> None:
    settings = load_settings(env=env, base_dir=tmp_path)
    with pytest.raises(ConfigError) as info:
        oidc.check_settings(settings)
    assert info.value.setting == setting


def test_default_authority_is_the_tenants(tmp_path: Path) -> None:
    settings = load_settings(
        env={
            "MAILBOT_WEB_OIDC_TENANT": "contoso.onmicrosoft.com",
            "MAILBOT_WEB_OIDC_CLIENT_ID": "c",
            "MAILBOT_WEB_OIDC_CLIENT_SECRET": "s",
        },
        base_dir=tmp_path,
    )
    config = oidc.config_from(settings)
    assert config is not None
    assert config.discovery_url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    )
    assert config.roles == (("team", "CSCP.Team"), ("sprg", "CSCP.SPRG"), ("admin", "CSCP.Admin"))
    assert "client_secret" not in repr(config)
