"""OAuth2 for Microsoft 365 mailboxes: client-credentials tokens and SASL XOAUTH2.

Microsoft 365 turned off passwords (basic auth) for IMAP and SMTP; an app registered in
Entra ID with the ``IMAP.AccessAsApp`` / ``SMTP.SendAsApp`` permissions gets a token for
``https://outlook.office365.com/.default`` with its own secret or certificate, and logs
in with SASL XOAUTH2. ``TokenProvider`` keeps one token and fetches a new one a few
minutes before it expires, so a long IDLE session's reconnect never presents a stale one.

Tokens and secrets are never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mailbot.errors import ConfigError, MailbotError

log = logging.getLogger(__name__)

OUTLOOK_SCOPE = "https://outlook.office365.com/.default"
MICROSOFT_LOGIN = "https://login.microsoftonline.com"

#: OAuth error codes that mean our registration or credentials are wrong: asking
#: again will not help (RFC 6749 section 5.2, plus Entra's own).
_PERMANENT_ERRORS = frozenset(
    {
        "invalid_client",
        "unauthorized_client",
        "invalid_scope",
        "invalid_grant",
        "unsupported_grant_type",
        "invalid_request",
    }
)


class TokenError(MailbotError):
    """No access token could be had; ``temporary`` says whether a later try may work."""

    def __init__(self, problem: str, *, temporary: bool) -> None:
        super().__init__(problem)
        self.temporary = temporary


class TokenSource(Protocol):
    """What the IMAP and SMTP adapters need: a current token, and a way to drop it."""

    def token(self) -> str: ...

    def invalidate(self) -> None: ...


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_in: float


#: Fetches a token; the flag asks it to skip any cache of its own.
FetchToken = Callable[[bool], AccessToken]


def xoauth2_string(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, before base64 (Google/Microsoft format)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


class TokenProvider:
    """Caches one access token; fetches anew ``margin`` seconds before expiry.

    Thread-safe, so the IMAP reader and the SMTP sender may share one provider.
    """

    def __init__(
        self, fetch: FetchToken, *, margin: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._value: str | None = None
        self._refresh_at = 0.0
        self._skip_cache = False

    def token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._value is None or now >= self._refresh_at:
                fresh = self._fetch(self._skip_cache)
                self._skip_cache = False
                self._value = fresh.value
                # A token shorter-lived than the margin is still used once, not refetched
                # on every call: refresh at half its life then.
                lead = min(self._margin, fresh.expires_in / 2)
                self._refresh_at = now + fresh.expires_in - lead
                log.debug("access token fetched, valid for %d s", int(fresh.expires_in))
            return self._value

    def invalidate(self) -> None:
        """Forget the token (the server refused it); the next ``token()`` fetches anew."""
        with self._lock:
            self._value = None
            self._skip_cache = True


class MsalClientCredentials:
    """A ``FetchToken`` for Microsoft Entra ID's client-credentials flow, through MSAL.

    ``credential`` is the client secret (a string) or MSAL's certificate dict
    (``{"private_key": PEM, "thumbprint": HEX}``). ``authority_host`` and
    ``http_client`` exist for the tests' stand-in for login.microsoftonline.com; MSAL
    accepts only ``https://`` authorities.
    """

    def __init__(
        self,
        tenant: str,
        client_id: str,
        credential: str | dict[str, str],
        *,
        scopes: tuple[str, ...] = (OUTLOOK_SCOPE,),
        authority_host: str = MICROSOFT_LOGIN,
        http_client: Any = None,
        timeout: float = 30.0,
    ) -> None:
        self._authority = f"{authority_host.rstrip('/')}/{tenant}"
        self._client_id = client_id
        self._credential = credential
        self._scopes = list(scopes)
        self._custom_host = authority_host.rstrip("/") != MICROSOFT_LOGIN
        self._http_client = http_client
        self._timeout = timeout
        self._app: Any = None

    def __call__(self, skip_cache: bool = False) -> AccessToken:
        app = self._application()
        if skip_cache:
            _clear_access_tokens(app)
        try:
            result = app.acquire_token_for_client(scopes=self._scopes)
        except Exception as exc:  # noqa: BLE001 - MSAL surfaces requests' many errors
            raise TokenError(
                f"the token endpoint could not be reached ({type(exc).__name__})", temporary=True
            ) from exc
        return _token_from(result)

    def _application(self) -> Any:
        """Build the MSAL app on first use: MSAL fetches the OpenID metadata then."""
        if self._app is not None:
            return self._app
        import msal  # imported here: only Microsoft 365 deployments need it

        kwargs: dict[str, Any] = {"timeout": self._timeout}
        if self._http_client is not None:
            kwargs["http_client"] = self._http_client
        if self._custom_host:
            kwargs["instance_discovery"] = False  # Microsoft does not know a custom host
        try:
            self._app = msal.ConfidentialClientApplication(
                self._client_id, authority=self._authority, client_credential=self._credential, **kwargs
            )
        except ValueError as exc:
            raise TokenError(f"the authority is not usable: {exc}", temporary=False) from exc
        except Exception as exc:  # noqa: BLE001 - network errors from the metadata fetch
            raise TokenError(
                f"the token endpoint could not be reached ({type(exc).__name__})", temporary=True
            ) from exc
        return self._app


def _clear_access_tokens(app: Any) -> None:
    """MSAL serves cached tokens and forbids ``force_refresh``: drop them ourselves."""
    import msal

    cache = app.token_cache
    for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
        cache.remove_at(entry)


def _token_from(result: dict[str, Any]) -> AccessToken:
    """MSAL's result dict -> an ``AccessToken`` or a classified ``TokenError``."""
    if "access_token" in result:
        return AccessToken(str(result["access_token"]), float(result.get("expires_in", 3600)))
    code = str(result.get("error", "unknown_error"))
    temporary = code not in _PERMANENT_ERRORS
    raise TokenError(f"the token endpoint refused: {code}", temporary=temporary)


def load_m365_credential(secret: str | None, certificate_file: Path | None) -> str | dict[str, str]:
    """The client secret, or MSAL's certificate form (private key + SHA-1 thumbprint).

    One rule for IMAP/SMTP (XOAUTH2) and Graph: a secret wins over a certificate.
    """
    if secret:
        return secret
    if certificate_file is None:
        raise ConfigError("MAILBOT_M365_CLIENT_SECRET", "set a client secret or a certificate file")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        pem = certificate_file.read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            "MAILBOT_M365_CERTIFICATE_FILE", "cannot read a PEM certificate and private key from the file"
        ) from exc
    return {"private_key": pem.decode("ascii"), "thumbprint": cert.fingerprint(hashes.SHA1()).hex()}  # noqa: S303 - MSAL's format


def microsoft_token_provider(
    tenant: str, client_id: str, credential: str | dict[str, str], **kwargs: Any
) -> TokenProvider:
    """A ``TokenProvider`` for Microsoft 365 IMAP/SMTP (app-only access)."""
    return TokenProvider(MsalClientCredentials(tenant, client_id, credential, **kwargs))
