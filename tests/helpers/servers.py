"""Real servers for the mail tests: a private Dovecot, aiosmtpd, a fake Microsoft login.

Loaded as a pytest plugin (``pytest_plugins = ["_servers"]`` in ``conftest.py``).

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

import base64
import datetime as dt
import ipaddress
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from helpers.services import missing_service

USER = "cscp@example.org"
PASSWORD = "test-password-1"  # noqa: S105 - a throwaway password for a private server
#: The only access token the fake Microsoft hands out and Dovecot accepts.
GOOD_TOKEN = "test-access-token-1"  # noqa: S105


def free_port() -> int:
    """A loopback port free right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the private Dovecot, so ``-m "not dovecot"`` works."""
    for item in items:
        if "dovecot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dovecot)


# -- a test CA --------------------------------------------------------------------


@dataclass(frozen=True)
class TestCA:
    """PEM files: the CA certificate clients trust, and a server cert + key for 127.0.0.1."""

    __test__ = False  # not a test class, despite the name

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_test_ca(folder: Path) -> TestCA:
    """A CA and a server certificate valid for ``localhost`` and ``127.0.0.1``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailbot test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return TestCA(ca_file, cert_file, key_file)


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return make_test_ca(tmp_path_factory.mktemp("ca"))


# -- Dovecot ------------------------------------------------------------------------

_DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = mailbot-test-{instance}
protocols = imap
listen = 127.0.0.1
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_client_ca_file = {ca}
mail_location = maildir:{root}/mail/%u
mail_privileged_group =
imap_idle_notify_interval = 2 mins
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
# no auth penalty: refused-login tests would slow every later login by up to 15 s
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    user = root
  }}
  unix_listener stats-writer {{
    user = root
  }}
}}
"""

_OAUTH2_CONF = """\
introspection_mode = post
introspection_url = {introspect_url}
tls_ca_cert_file = {ca}
username_attribute = email
active_attribute = active
active_value = true
"""


@dataclass
class DovecotServer:
    """What a test needs to reach the private Dovecot, and a way to empty the mailbox."""

    host: str
    port: int
    tls_port: int
    user: str
    password: str
    ca_file: Path
    root: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def url(self, scheme: str = "imap", folder: str = "INBOX") -> str:
        """A mailbox URL of INTERFACE.md for this server (user percent-encoded)."""
        port = self.tls_port if scheme == "imaps" else self.port
        return f"{scheme}://{self.user.replace('@', '%40')}@{self.host}:{port}/{folder}"

    def client(self):  # type: ignore[no-untyped-def] - test helper
        """A raw IMAPClient logged in, for tests that look behind the adapter."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    def reset(self) -> None:
        """Delete every folder but INBOX and every message in INBOX."""
        with self.client() as client:
            for _flags, _delim, name in client.list_folders():
                if name.upper() != "INBOX":
                    client.delete_folder(name)
            client.select_folder("INBOX")
            uids = client.search("ALL")
            if uids:
                client.delete_messages(uids)
                client.expunge()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.root / "dovecot.log").read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _wait_for_greeting(host: str, port: int, process: subprocess.Popen[bytes]) -> bool:
    """True once the server sends its ``* OK`` greeting (within about 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def _prepare_dovecot_root(root: Path, ca: TestCA, introspect_url: str) -> tuple[Path, int, int]:
    """Write config, passwd and the folders mail processes (user ``dovecot``) need."""
    dovecot = pwd.getpwnam("dovecot")
    os.chmod(root, 0o755)  # mail processes run as ``dovecot`` and must reach mail/
    for sub in ("mail", "home"):
        (root / sub).mkdir()
        os.chown(root / sub, dovecot.pw_uid, dovecot.pw_gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    # Dovecot's auth process (user dovecot) reads the CA; pytest's tmp folder is 0700.
    ca_copy = root / "ca.pem"
    shutil.copyfile(ca.ca_file, ca_copy)
    os.chmod(ca_copy, 0o644)
    (root / "oauth2.conf").write_text(_OAUTH2_CONF.format(introspect_url=introspect_url, ca=ca_copy))
    port, tls_port = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(
        _DOVECOT_CONF.format(
            root=root,
            instance=os.getpid(),
            cert=ca.cert_file,
            key=ca.key_file,
            ca=ca_copy,
            port=port,
            tls_port=tls_port,
        )
    )
    return config, port, tls_port


@pytest.fixture(scope="session")
def dovecot(test_ca: TestCA, token_endpoint: TokenEndpoint) -> Iterator[DovecotServer]:
    """A private Dovecot for the whole session; skipped (failed on CI) when absent."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if binary is None:
        missing_service("Dovecot is not installed (apt-get install dovecot-imapd)")
    if os.geteuid() != 0:
        missing_service("the private Dovecot needs root (it drops to the dovecot/dovenull users)")
    # Not under pytest's tmp folder: that one is mode 0700, which user dovecot cannot enter.
    root = Path(tempfile.mkdtemp(prefix="mailbot-dovecot-"))
    config, port, tls_port = _prepare_dovecot_root(root, test_ca, token_endpoint.introspect_url)
    process = subprocess.Popen(  # noqa: S603 - fixed argv, our own config
        [str(binary), "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    server = DovecotServer("127.0.0.1", port, tls_port, USER, PASSWORD, test_ca.ca_file, root, process)
    try:
        if not _wait_for_greeting("127.0.0.1", port, process):
            process.kill()
            _, err = process.communicate(timeout=5)
            pytest.fail(f"Dovecot did not start: {err.decode(errors='replace')[-800:]}\n{server.log_tail()}")
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot_account(dovecot: DovecotServer) -> DovecotServer:
    """The Dovecot user, with an empty INBOX and no other folders."""
    dovecot.reset()
    return dovecot


# -- aiosmtpd --------------------------------------------------------------------


@dataclass
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class RecordingHandler:
    """An aiosmtpd handler: records messages, or refuses the next few on request.

    ``fail_next(451, 2)`` makes the next two DATA commands answer 451 (try later);
    ``fail_next(550)`` one permanent refusal.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        #: Accepted (user, secret) pairs when AUTH is on; the secret may be a token.
        self.accepted: set[tuple[str, str]] = set()
        self.logins: list[tuple[str, str]] = []

    def fail_next(self, code: int, count: int = 1) -> None:
        with self._lock:
            self._failures.extend([code] * count)

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        with self._lock:
            code = self._failures.pop(0) if self._failures else None
        if code is not None:
            text = "4.3.0 Try again later" if code < 500 else "5.7.1 Refused"
            return f"{code} {text}"
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"

    async def auth_XOAUTH2(self, server, args):  # type: ignore[no-untyped-def]
        """SASL XOAUTH2 (Google/Microsoft): base64 of ``user=U^Aauth=Bearer T^A^A``."""
        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) > 1:
            raw = base64.b64decode(args[1])
        else:
            raw = await server.challenge_auth("", encode_to_b64=False)
            if raw is MISSING:
                return AuthResult(success=False, handled=True)
        parts = dict(p.split("=", 1) for p in raw.decode().split("\x01") if "=" in p)
        user, token = parts.get("user", ""), parts.get("auth", "").removeprefix("Bearer ")
        self.logins.append((user, token))
        return AuthResult(success=(user, token) in self.accepted, handled=False)


def _authenticator(handler: RecordingHandler):  # type: ignore[no-untyped-def]
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        if isinstance(auth_data, LoginPassword):
            pair = (auth_data.login.decode(), auth_data.password.decode())
            handler.logins.append(pair)
            return AuthResult(success=pair in handler.accepted, handled=False)
        return AuthResult(success=False, handled=False)

    return check


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler
    ca_file: Path | None = None

    def url(self, scheme: str = "smtp", user: str | None = None) -> str:
        who = f"{user.replace('@', '%40')}@" if user else ""
        return f"{scheme}://{who}{self.host}:{self.port}"


def _start_smtp(mode: str, ca: TestCA | None) -> Iterator[SmtpServer]:
    """mode: ``plain``, ``starttls`` (STARTTLS + AUTH required) or ``tls`` (implicit)."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    kwargs: dict[str, object] = {}
    server_kwargs: dict[str, object] = {}
    if mode == "starttls":
        assert ca is not None
        server_kwargs = {
            "tls_context": ca.server_context(),
            "require_starttls": True,
            "auth_require_tls": True,
            "auth_required": True,
            "authenticator": _authenticator(handler),
        }
    elif mode == "tls":
        assert ca is not None
        kwargs["ssl_context"] = ca.server_context()
        server_kwargs = {"authenticator": _authenticator(handler), "auth_require_tls": False}
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs, **server_kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler, ca.ca_file if ca is not None else None)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP on loopback, no AUTH."""
    yield from _start_smtp("plain", None)


@pytest.fixture
def smtp_starttls_server(test_ca: TestCA) -> Iterator[SmtpServer]:
    """SMTP that demands STARTTLS and then AUTH (PLAIN/LOGIN or XOAUTH2)."""
    yield from _start_smtp("starttls", test_ca)


@pytest.fixture
def smtps_server(test_ca: TestCA) -> Iterator[SmtpServer]:
    """SMTP over implicit TLS (``smtps://``), AUTH offered."""
    yield from _start_smtp("tls", test_ca)


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
