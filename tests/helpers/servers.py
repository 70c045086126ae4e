"""Real servers for the mail tests, as pytest fixtures: a private Dovecot, aiosmtpd, a fake
Microsoft login.

Loaded as a pytest plugin (``pytest_plugins = ["helpers.servers"]`` in ``conftest.py``).
The servers themselves are plain code in ``helpers/dovecot.py``, ``helpers/smtp.py`` and
``helpers/loopback.py``, which the benchmarks start as well; this module adds what pytest
needs (fixtures, skips, marks) and re-exports the names tests import from here.

* ``dovecot`` (session): Debian's Dovecot from its own config in a temporary folder,
  on free loopback ports: a plain listener (STARTTLS offered) and an implicit-TLS one,
  both with a certificate from a test CA made here. One user, ``cscp@example.org``.
  ``dovecot_account`` (per test) empties that user's mailbox first and hands out the
  same ``DovecotServer``.
* ``smtp_server`` (per test): an aiosmtpd ``Controller`` whose handler records each
  message and can be told to answer 451 or 550 for the next N messages.
* ``token_endpoint`` (session): a tiny HTTP server that answers what MSAL asks Microsoft
  (OpenID discovery, token), and Dovecot's token introspection.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from helpers.dovecot import PASSWORD, USER, DovecotFailed, DovecotMissing, DovecotServer
from helpers.loopback import TestCA, free_port, make_test_ca
from helpers.services import missing_service
from helpers.smtp import Received, RecordingHandler, SmtpServer

__all__ = [
    "GOOD_TOKEN",
    "PASSWORD",
    "USER",
    "DovecotServer",
    "Received",
    "RecordingHandler",
    "SmtpServer",
    "TestCA",
    "TokenEndpoint",
    "free_port",
]

#: The only access token the fake Microsoft hands out and Dovecot accepts.
GOOD_TOKEN = "test-access-token-1"  # noqa: S105


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the private Dovecot, so ``-m "not dovecot"`` works."""
    for item in items:
        if "dovecot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dovecot)


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return make_test_ca(tmp_path_factory.mktemp("ca"))


# -- Dovecot ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot(test_ca: TestCA, token_endpoint: TokenEndpoint) -> Iterator[DovecotServer]:
    """A private Dovecot for the whole session; skipped (failed on CI) when absent."""
    try:
        with DovecotServer.running(tls=test_ca, introspect_url=token_endpoint.introspect_url) as server:
            yield server
    except DovecotMissing as exc:
        missing_service(str(exc))
    except DovecotFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture
def dovecot_account(dovecot: DovecotServer) -> DovecotServer:
    """The Dovecot user, with an empty INBOX and no other folders."""
    dovecot.reset()
    return dovecot


# -- aiosmtpd --------------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP on loopback, no AUTH."""
    with SmtpServer.running() as server:
        yield server


@pytest.fixture
def smtp_starttls_server(test_ca: TestCA) -> Iterator[SmtpServer]:
    """SMTP that demands STARTTLS and then AUTH (PLAIN/LOGIN or XOAUTH2)."""
    with SmtpServer.running("starttls", test_ca) as server:
        yield server


@pytest.fixture
def smtps_server(test_ca: TestCA) -> Iterator[SmtpServer]:
    """SMTP over implicit TLS (``smtps://``), AUTH offered."""
    with SmtpServer.running("tls", test_ca) as server:
        yield server


# -- a fake Microsoft identity platform ----------------------------------------------


@dataclass
class TokenEndpoint:
    """A loopback stand-in for login.microsoftonline.com (and for token introspection).

    ``requests`` records each token request's form fields (no secrets are real here);
    ``expires_in`` sets the lifetime of the tokens it hands out next; ``issued`` lists
    them (Dovecot's introspection accepts those and ``GOOD_TOKEN``).
    """

    base_url: str
    tenant: str
    ca_file: Path
    requests: list[dict[str, str]] = field(default_factory=list)
    expires_in: int = 3600
    issued: list[str] = field(default_factory=list)
    refuse: bool = False

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant}"

    @property
    def introspect_url(self) -> str:
        return f"{self.base_url}/introspect"


def _token_handler(endpoint: TokenEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None  # keep pytest output clean

        def _json(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            base, tenant = endpoint.base_url, endpoint.tenant
            if self.path.startswith(f"/{tenant}/v2.0/.well-known/openid-configuration"):
                self._json(
                    200,
                    {
                        "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                        "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                        "issuer": f"{base}/{tenant}/v2.0",
                        "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
                    },
                )
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path == "/introspect":
                token = form.get("token", "")
                active = token == GOOD_TOKEN or token in endpoint.issued
                self._json(200, {"active": active, "email": USER} if active else {"active": False})
            elif self.path == f"/{endpoint.tenant}/oauth2/v2.0/token":
                endpoint.requests.append(form)
                if endpoint.refuse:
                    self._json(401, {"error": "invalid_client", "error_description": "refused"})
                    return
                token = f"{GOOD_TOKEN}-{len(endpoint.issued) + 1}"
                endpoint.issued.append(token)
                self._json(
                    200, {"token_type": "Bearer", "expires_in": endpoint.expires_in, "access_token": token}
                )
            else:
                self._json(404, {"error": "not_found"})

    return Handler


@pytest.fixture(scope="session")
def token_endpoint(test_ca: TestCA) -> Iterator[TokenEndpoint]:
    """HTTPS with the test CA: MSAL refuses an ``http://`` authority outright."""
    endpoint = TokenEndpoint(base_url="", tenant="test-tenant", ca_file=test_ca.ca_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _token_handler(endpoint))
    server.socket = test_ca.server_context().wrap_socket(server.socket, server_side=True)
    endpoint.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
