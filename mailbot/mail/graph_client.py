"""Microsoft Graph over HTTPS: sign-in, one request with retries, errors by kind.

The Graph mailbox (``graph_mailbox.py``) and sender (``graph_sender.py``) speak to Graph
only through ``GraphClient.request``, which

* signs in with the app's own identity (MSAL client credentials, scope
  ``https://graph.microsoft.com/.default``, or the national cloud's host when
  ``m365.graph_url`` names one) and sends a fresh token after a 401 once;
* retries throttling (429) and server trouble (5xx) with the shared capped backoff,
  waiting what ``Retry-After`` asks where Graph sends it (Microsoft's guidance:
  https://learn.microsoft.com/graph/throttling);
* raises ``GraphAuthError`` (401/403: a person must fix the app's permissions),
  ``GraphUnavailable`` (try later), ``GraphSyncReset`` (a delta token Graph no longer
  knows) or ``GraphError`` (anything else), carrying the status and Graph's error code.

Graph's error *message* text is never copied into ours (it can quote an address); the
code (``ErrorAccessDenied``, ``ErrorInvalidRecipients``...) is. Tokens never reach a log.
Links Graph hands back (``@odata.nextLink``, ``@odata.deltaLink``) are followed only to
the configured Graph host, so a bearer token never goes anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from mailbot.errors import ConfigError
from mailbot.mail.backoff import Backoff, LinkState
from mailbot.mail.graph_errors import GraphAuthError as GraphAuthError  # callers import them here too
from mailbot.mail.graph_errors import GraphError as GraphError
from mailbot.mail.graph_errors import GraphSyncReset as GraphSyncReset
from mailbot.mail.graph_errors import GraphUnavailable as GraphUnavailable
from mailbot.mail.oauth import MICROSOFT_LOGIN, MsalClientCredentials, TokenError, TokenProvider, TokenSource

if TYPE_CHECKING:
    from mailbot.settings import Settings

log = logging.getLogger(__name__)

GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_URL_SETTING = "MAILBOT_M365_GRAPH_URL"
AUTHORITY_URL_SETTING = "MAILBOT_M365_AUTHORITY_URL"
#: Ask for ids that survive a move between folders (learn.microsoft.com/graph/outlook-immutable-id).
IMMUTABLE_ID = 'IdType="ImmutableId"'
#: Error codes meaning "this delta token is gone: read the folder again" (graph/errors).
_RESYNC_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
#: Statuses worth another try: throttled, and the server's own trouble. 501 is not.
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504, 509})


def graph_scope(graph_url: str) -> str:
    """``https://graph.microsoft.com/v1.0`` -> ``https://graph.microsoft.com/.default``.

    National clouds have their own Graph host (``graph.microsoft.us``,
    ``microsoftgraph.chinacloudapi.cn``) and a token must be asked for that host.
    """
    parts = urlsplit(graph_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


def check_base_url(url: str, setting: str) -> str:
    """``https://`` (or ``http://`` to this machine only, for a local stand-in)."""
    from mailbot.mail.connect import is_loopback  # here: connect imports this module lazily

    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(setting, "expected an https:// URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(setting, "http:// is allowed only to this machine; use https://")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(setting, "the URL may carry no user, ?query or #fragment")
    return url.strip().rstrip("/")


def new_session(ca_file: str | None) -> requests.Session:
    """A session that verifies certificates against ``ca_file`` (else the usual CAs).

    Used for MSAL too, so a council's TLS-inspecting proxy CA (``mailbox.ca_file``)
    covers both sign-in and Graph. Proxies from the environment still apply.
    """
    session = _VerifyingSession(ca_file)
    session.headers["User-Agent"] = "mailbot"
    return session


class _VerifyingSession(requests.Session):
    """``REQUESTS_CA_BUNDLE`` would otherwise override a session's ``verify``."""

    def __init__(self, ca_file: str | None) -> None:
        super().__init__()
        self.verify = ca_file or True

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


@dataclass
class GraphAccess:
    """How to reach Graph as the app: one per bot, so mailbox and sender share a token."""

    tenant: str
    client_id: str
    credential: str | dict[str, str] = field(repr=False)
    graph_url: str = GRAPH_URL
    authority_url: str = MICROSOFT_LOGIN
    ca_file: str | None = None
    timeout: float = 30.0
    _tokens: TokenSource | None = field(default=None, init=False, repr=False)

    def tokens(self) -> TokenSource:
        if self._tokens is None:
            fetch = MsalClientCredentials(
                self.tenant,
                self.client_id,
                self.credential,
                scopes=(graph_scope(self.graph_url),),
                authority_host=self.authority_url,
                http_client=new_session(self.ca_file),
                timeout=self.timeout,
            )
            self._tokens = TokenProvider(fetch)
        return self._tokens

    def client(
        self, *, backoff: Backoff | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> GraphClient:
        return GraphClient(
            self.graph_url,
            self.tokens(),
            ca_file=self.ca_file,
            timeout=self.timeout,
            backoff=backoff,
            sleep=sleep,
        )


def graph_access_from_settings(settings: Settings) -> GraphAccess | None:
    """The ``m365.*`` settings as a ``GraphAccess``; None when no app is configured."""
    from mailbot.mail.oauth import load_m365_credential

    if not settings.m365_tenant_id or not settings.m365_client_id:
        return None
    return GraphAccess(
        tenant=settings.m365_tenant_id,
        client_id=settings.m365_client_id,
        credential=load_m365_credential(settings.m365_client_secret, settings.m365_certificate_file),
        graph_url=check_base_url(settings.m365_graph_url, GRAPH_URL_SETTING),
        authority_url=check_base_url(settings.m365_authority_url, AUTHORITY_URL_SETTING),
        ca_file=str(settings.mailbox_ca_file) if settings.mailbox_ca_file else None,
    )


class GraphClient:
    """One HTTPS session to Graph with the app's token; not thread-safe (one per user)."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        *,
        ca_file: str | None = None,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._tokens = tokens
        self._session = new_session(ca_file)
        self._timeout = timeout
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._max_wait = max_wait
        self._link = LinkState(f"graph {parts.netloc}", log)

    def owns(self, url: str) -> bool:
        """True when ``url`` is on the configured Graph host (a link we may follow)."""
        return url == self.base_url or url.startswith(self.base_url + "/")

    def request(
        self,
        method: str,
        target: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
        data: bytes | None = None,
        content_type: str | None = None,
        prefer: Iterable[str] = (),
        retry_transport: bool = True,
    ) -> requests.Response:
        """Send one request (``target``: a path under the base URL, or a Graph link).

        ``retry_transport=False`` for a request that must not be sent twice when the
        answer is lost (sendMail): a dropped connection is then reported, not retried.
        Answers with a status (429, 5xx) are retried either way: Graph did not act.
        """
        url = self._url(target)
        headers = {"Accept": "application/json"}
        prefs = list(prefer)
        if prefs:
            headers["Prefer"] = ", ".join(prefs)
        body = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif content_type is not None:
            headers["Content-Type"] = content_type
        attempts = max(1, self._backoff.attempts)
        attempt = 0
        fresh_token = False
        while True:
            headers["Authorization"] = f"Bearer {self._token()}"
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except requests.exceptions.SSLError as exc:
                raise GraphError(f"{self._link.name}: certificate not trusted") from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._link.failed(exc)
                if not retry_transport or attempt + 1 >= attempts:
                    raise GraphUnavailable(f"{self._link.name}: unreachable ({_describe(exc)})") from exc
                self._sleep(self._backoff.delay(attempt))
                attempt += 1
                continue
            status = response.status_code
            if status == 401 and not fresh_token:
                self._tokens.invalidate()  # revoked or expired early: one fresh token
                fresh_token = True
                continue
            if status in _RETRY_STATUS:
                code = _error_code(response)
                wait = retry_after(response)
                if attempt + 1 >= attempts or (wait is not None and wait > self._max_wait):
                    raise GraphUnavailable(
                        f"{self._link.name}: {'throttled' if status == 429 else 'server error'} "
                        f"({status} {code})".rstrip(),
                        status=status,
                        code=code,
                    )
                delay = wait if wait is not None else self._backoff.delay(attempt)
                log.info(
                    "%s: answered %d to a %s; trying again in %.1f s", self._link.name, status, method, delay
                )
                self._sleep(delay)
                attempt += 1
                continue
            self._link.succeeded()
            if status >= 400 or 300 <= status < 400:
                raise _error_for(response)
            return response

    def close(self) -> None:
        self._session.close()

    def token_roles(self) -> frozenset[str] | None:
        """The application permissions in the app's token, or None when it names none.

        Permissions granted in Entra ID (admin consent) appear as the token's ``roles``;
        RBAC for Applications grants them inside Exchange, where no token shows them.
        """
        return jwt_roles(self._token())

    # -- helpers -------------------------------------------------------------------

    def _url(self, target: str) -> str:
        if target.startswith("/"):
            return self.base_url + target
        if not self.owns(target):
            raise GraphError("Microsoft Graph sent a link to another host; not followed")
        return target

    def _token(self) -> str:
        try:
            return self._tokens.token()
        except TokenError as exc:
            if exc.temporary:
                raise GraphUnavailable(f"no access token: {exc}") from exc
            raise GraphAuthError(f"no access token: {exc}") from exc


def retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_codes(response: requests.Response) -> list[str]:
    """Graph's ``error.code`` and every nested ``innerError.code``, outermost first."""
    try:
        payload = response.json()
    except ValueError:
        return []
    codes: list[str] = []
    node = payload.get("error") if isinstance(payload, dict) else None
    while isinstance(node, dict) and len(codes) < 10:
        code = node.get("code")
        if isinstance(code, str) and code:
            codes.append(code[:80])
        node = node.get("innerError") or node.get("innererror")
    return codes


def _error_code(response: requests.Response) -> str:
    codes = error_codes(response)
    return codes[0] if codes else ""


def _error_for(response: requests.Response) -> GraphError:
    status = response.status_code
    codes = error_codes(response)
    code = codes[0] if codes else ""
    text = f"Microsoft Graph answered {status} {code}".rstrip()
    if status == 410 or any(c.lower() in _RESYNC_CODES for c in codes):
        return GraphSyncReset(text, status=status, code=code)
    if status in (401, 403):
        return GraphAuthError(text, status=status, code=code)
    return GraphError(text, status=status, code=code)


def permission_problem(exc: GraphAuthError, mailbox: str, permission: str) -> str:
    """Plain words for a refused app: what was refused and which permission it needs."""
    where = "the README's Microsoft 365 section"
    if exc.status is None:  # the sign-in itself refused the app
        return (
            f"Microsoft sign-in refused the app ({exc}): check m365.tenant_id, m365.client_id "
            f"and the client secret or certificate"
        )
    if exc.code == "ErrorSendAsDenied":
        return (
            f"Microsoft Graph refused to send as the From address from {mailbox} "
            f"({exc.status} {exc.code}): mail.from must be {mailbox}, or the mailbox needs "
            f"Send As permission for it"
        )
    if exc.status == 401:
        return (
            f"Microsoft Graph did not accept the app's sign-in for {mailbox} "
            f"({exc.status} {exc.code}): check m365.tenant_id, m365.client_id and the secret "
            f"or certificate, and that the app has the application permission {permission} "
            f"(see {where})"
        ).replace(" )", ")")
    return (
        f"Microsoft Graph refused the app access to {mailbox} ({exc.status} {exc.code}): "
        f"the app lacks the application permission {permission} for this mailbox; grant it "
        f"in Entra ID with admin consent, or with RBAC for Applications in Exchange Online "
        f"(see {where})"
    ).replace(" )", ")")


def jwt_roles(token: str) -> frozenset[str] | None:
    """The ``roles`` claim of a JWT, read without checking it (it is only advice)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    if not isinstance(roles, list) or not roles:
        return None
    return frozenset(str(r) for r in roles)


def _describe(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError | requests.Timeout):
            return "timed out"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return type(exc).__name__
