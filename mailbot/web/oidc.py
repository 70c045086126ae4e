"""Signing in with Microsoft Entra ID: OpenID Connect, authorization code flow with PKCE.

Authlib makes the authorization request (S256 code challenge, state, nonce) and redeems
the code; the ID token is checked with joserfc and Authlib's ID-token rules: an RS256
signature by a key from the provider's JWKS (fetched again when a new key id appears),
the issuer named by the provider's discovery document, our client id as the audience,
the nonce of this sign-in, and its expiry against the bot's clock.

The workspace user is found by the token's issuer and subject (never by name alone). The
first sign-in creates the account with the role mapped from the token's ``roles`` (app
roles) or ``groups`` claims; each later sign-in takes the role again, so a role removed in
Entra ID takes effect at the next sign-in. No role, no account: a plain refusal.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.clock import Clock
from mailbot.errors import ConfigError, MailbotError
from mailbot.settings import Settings
from mailbot.store.models import ROLES, WebUser

SCOPE = "openid profile email"
CACHE_FOR = timedelta(hours=1)
TIMEOUT = 10
LEEWAY_SECONDS = 120
MULTI_TENANT = ("common", "organizations", "consumers")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
#: Not an argon2 hash, so no password ever matches: an Entra ID account signs in there only.
NO_PASSWORD = "!"  # noqa: S105 - a marker, not a password


class OidcError(MailbotError):
    """A sign-in with the provider did not succeed; ``str()`` is for the person signing in,
    ``reason`` a few words for the log and the audit."""

    def __init__(self, message: str, reason: str = "not finished") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class OidcConfig:
    authority: str
    client_id: str
    client_secret: str | None = field(repr=False)
    roles: tuple[tuple[str, str], ...]
    tenant: str

    @property
    def discovery_url(self) -> str:
        return self.authority.rstrip("/") + "/.well-known/openid-configuration"


def _secure_url(url: str) -> bool:
    """HTTPS, or plain HTTP to this machine only (a provider in a test)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def parse_roles(items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items:
        role, sep, value = item.partition("=")
        role, value = role.strip(), value.strip()
        if not sep or role not in ROLES or not value:
            raise ConfigError(
                "MAILBOT_WEB_OIDC_ROLES",
                f"expected role=value pairs with a role from {', '.join(ROLES)}, got {item!r}",
            )
        pairs.append((role, value))
    return tuple(pairs)


def config_from(settings: Settings) -> OidcConfig | None:
    """The provider's settings, or None when Entra ID sign-in is not set up."""
    tenant, client = settings.web_oidc_tenant, settings.web_oidc_client_id
    if not tenant and not client:
        return None
    if not tenant:
        raise ConfigError("MAILBOT_WEB_OIDC_TENANT", "Entra ID sign-in needs the tenant too")
    if not client:
        raise ConfigError("MAILBOT_WEB_OIDC_CLIENT_ID", "Entra ID sign-in needs the client id too")
    if tenant.lower() in MULTI_TENANT:
        raise ConfigError(
            "MAILBOT_WEB_OIDC_TENANT",
            "name the council's own tenant (its id or domain), not a multi-tenant alias",
        )
    authority = settings.web_oidc_authority or f"https://login.microsoftonline.com/{tenant}/v2.0"
    if not _secure_url(authority):
        raise ConfigError("MAILBOT_WEB_OIDC_AUTHORITY", "must be an https:// address")
    return OidcConfig(
        authority=authority.rstrip("/"),
        client_id=client,
        client_secret=settings.web_oidc_client_secret,
        roles=parse_roles(settings.web_oidc_roles),
        tenant=tenant,
    )


def check_settings(settings: Settings) -> None:
    config_from(settings)


def map_role(config: OidcConfig, claims: dict[str, Any]) -> str | None:
    """The first configured role whose value is among the token's app roles or groups."""
    held: set[str] = set()
    for claim in ("roles", "groups"):
        values = claims.get(claim) or []
        if isinstance(values, list):
            held.update(str(v).casefold() for v in values)
    for role, value in config.roles:
        if value.casefold() in held:
            return role
    return None


def subject_key(claims: dict[str, Any]) -> str:
    return hashlib.sha256(f"{claims['iss']}\x00{claims['sub']}".encode()).hexdigest()


class Provider:
    """The OpenID provider as this process sees it: discovery and keys, cached."""

    def __init__(self, config: OidcConfig, clock: Clock, http: requests.Session | None = None) -> None:
        self.config = config
        self.clock = clock
        self.http = http or requests.Session()
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at: datetime | None = None
        self._keys: KeySet | None = None

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, timeout=TIMEOUT)
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise OidcError(
                "Microsoft sign-in cannot be reached just now. Please try again "
                "in a few minutes, or sign in with a workspace password.",
                "provider unreachable",
            ) from exc
        if not isinstance(data, dict):
            raise OidcError(
                "Microsoft sign-in answered in a way the workspace cannot use.", "provider answer unusable"
            )
        return data

    def metadata(self) -> dict[str, Any]:
        now = self.clock.now()
        with self._lock:
            if (
                self._metadata is not None
                and self._metadata_at is not None
                and now - self._metadata_at < CACHE_FOR
            ):
                return self._metadata
        data = self._get_json(self.config.discovery_url)
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = data.get(key)
            if not isinstance(value, str) or not _secure_url(value):
                raise OidcError(
                    "Microsoft sign-in is not set up correctly (the provider's "
                    "discovery document). Please tell an administrator.",
                    "discovery document unusable",
                )
        if "{tenantid}" in data["issuer"]:
            raise OidcError(
                "Microsoft sign-in is set up for any tenant; it must name the "
                "council's own. Please tell an administrator.",
                "multi-tenant issuer",
            )
        with self._lock:
            self._metadata, self._metadata_at = data, now
            self._keys = None
        return data

    def keys(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        data = self._get_json(self.metadata()["jwks_uri"])
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise OidcError("Microsoft sign-in sent keys the workspace cannot use.", "keys unusable") from exc
        with self._lock:
            self._keys = keys
        return keys

    def _client(self, redirect_uri: str) -> OAuth2Session:
        method = "client_secret_post" if self.config.client_secret else "none"
        return OAuth2Session(
            self.config.client_id,
            self.config.client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=method,
            default_timeout=TIMEOUT,
        )

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
        client = self._client(redirect_uri)
        url, _ = client.create_authorization_url(
            self.metadata()["authorization_endpoint"],
            state=state,
            code_verifier=code_verifier,
            nonce=nonce,
            response_mode="query",
        )
        return str(url)

    def redeem(self, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and return the ID token's checked claims."""
        client = self._client(redirect_uri)
        try:
            token = client.fetch_token(
                self.metadata()["token_endpoint"],
                code=code,
                code_verifier=code_verifier,
                grant_type="authorization_code",
            )
        except (requests.RequestException, ValueError) as exc:
            raise OidcError(
                "Microsoft sign-in could not be finished. Please try again.", "token endpoint unreachable"
            ) from exc
        except AuthlibBaseError as exc:  # the token endpoint said no (an OAuth error answer)
            raise OidcError(
                "Microsoft sign-in refused to finish this sign-in. Please try again.",
                "code refused by the provider",
            ) from exc
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not isinstance(id_token, str):
            raise OidcError("Microsoft sign-in sent no identity token.", "no ID token")
        return self.check_id_token(id_token, nonce, access_token=token.get("access_token"))

    def check_id_token(self, id_token: str, nonce: str, *, access_token: str | None = None) -> dict[str, Any]:
        try:
            try:
                decoded = jwt.decode(id_token, self.keys(), algorithms=["RS256"])
            except InvalidKeyIdError:  # the provider has rolled its keys: fetch them again
                decoded = jwt.decode(id_token, self.keys(refresh=True), algorithms=["RS256"])
            params: dict[str, Any] = {"nonce": nonce, "client_id": self.config.client_id}
            if access_token:
                params["access_token"] = access_token
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": self.metadata()["issuer"]},
                    "aud": {"essential": True, "value": self.config.client_id},
                    "sub": {"essential": True},
                    "exp": {"essential": True},
                    "nonce": {"essential": True, "value": nonce},
                },
                params,
            )
            claims.validate(now=int(self.clock.now().timestamp()), leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            # joserfc's own words (fixed strings naming at most the claim), never a value
            why = exc.error if isinstance(exc, JoseError) else type(exc).__name__
            claim = getattr(exc, "claim", None)
            raise OidcError(
                "The identity token from Microsoft sign-in could not be trusted, so you are not signed in.",
                f"ID token refused ({why}{f' {claim}' if claim else ''})",
            ) from exc
        return dict(claims)


def _name_for(claims: dict[str, Any]) -> str:
    for claim in ("preferred_username", "email", "upn"):
        value = claims.get(claim)
        if isinstance(value, str) and _NAME.match(value.strip().lower()):
            return value.strip().lower()
    return "entra-" + subject_key(claims)[:12]


def user_for(session: Session, config: OidcConfig, claims: dict[str, Any], now: datetime) -> WebUser:
    """The workspace user for these checked claims: found, updated, or made; else OidcError."""
    role = map_role(config, claims)
    user = session.scalars(select(WebUser).where(WebUser.oidc_subject == subject_key(claims))).one_or_none()
    if role is None:
        raise OidcError(
            "Your Microsoft account has no role in this workspace, so you cannot "
            "sign in. Ask the CSCP administrator to give you one in Entra ID.",
            "no role maps",
        )
    if user is not None:
        if user.disabled:
            raise OidcError(
                "Your workspace account is disabled. Please ask an administrator.", "account disabled"
            )
        user.role = role
        return user
    name = _name_for(claims)
    taken = session.scalars(select(WebUser.id).where(WebUser.name == name)).first()
    if taken is not None:
        raise OidcError(
            "There is already a workspace account with your name that is not "
            "linked to your Microsoft account. Please ask an administrator.",
            "name taken by another account",
        )
    user = WebUser(
        name=name,
        role=role,
        password_hash=NO_PASSWORD,
        disabled=False,
        failed_logins=0,
        created_at=now,
        password_changed_at=now,
        source="oidc",
        oidc_subject=subject_key(claims),
    )
    session.add(user)
    session.flush()
    return user
