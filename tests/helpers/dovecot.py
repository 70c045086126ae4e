"""A private Dovecot from plain code: the ``dovecot`` fixture (``helpers/servers.py``) and
the benchmarks (``benchmarks/servers.py``) both start theirs here.

No pytest in this module: the benchmarks run without it. What goes wrong is an exception
the caller turns into a skip, a failed test or an exit: ``DovecotMissing`` (not installed,
not root), ``DovecotFailed`` (there, but it did not start).

Debian's Dovecot 2.3 from its own config in a temporary folder (``../shared/NOTES.md``):
mail processes as ``dovecot``, logins as ``dovenull``, one user, ``cscp@example.org``,
plain IMAP on a free loopback port. With a ``TestCA`` also STARTTLS and an implicit-TLS
listener; with a token-introspection URL as well, OAuth logins (XOAUTH2, OAUTHBEARER).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from helpers.loopback import TestCA, free_port

USER = "cscp@example.org"
PASSWORD = "test-password-1"  # noqa: S105 - a throwaway password for a private server


class DovecotMissing(Exception):
    """Dovecot cannot run here (not installed, or not root): a reason to skip."""


class DovecotFailed(Exception):
    """Dovecot is here but did not start; the message carries its stderr and log."""


_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = mailbot-{instance}
protocols = imap
listen = 127.0.0.1
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechanisms}
auth_failure_delay = 0
{ssl}
mail_location = maildir:{root}/mail/%u
mail_privileged_group =
imap_idle_notify_interval = 2 mins
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
{oauth_passdb}userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
{imaps}}}
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

_SSL = """\
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_client_ca_file = {ca}"""

_IMAPS = """\
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
"""

_OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf
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


def _wait_for_greeting(host: str, port: int, process: subprocess.Popen[bytes], seconds: float = 15) -> bool:
    """True once the server sends its ``* OK`` greeting."""
    deadline = time.monotonic() + seconds
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


def _write_config(
    root: Path, name: str, password: str, tls: TestCA | None, introspect_url: str | None
) -> tuple[Path, int, int | None]:
    """Config, passwd and the folders mail processes (user ``dovecot``) need."""
    dovecot = pwd.getpwnam("dovecot")
    os.chmod(root, 0o755)  # mail processes run as ``dovecot`` and must reach mail/
    for sub in ("mail", "home"):
        (root / sub).mkdir()
        os.chown(root / sub, dovecot.pw_uid, dovecot.pw_gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{password}::::::\n")
    port, tls_port = free_port(), None
    parts = {"ssl": "ssl = no", "imaps": "", "oauth_mechanisms": "", "oauth_passdb": ""}
    if tls is not None:
        # Dovecot's auth process (user dovecot) reads the CA; pytest's tmp folder is 0700.
        ca_copy = root / "ca.pem"
        shutil.copyfile(tls.ca_file, ca_copy)
        os.chmod(ca_copy, 0o644)
        tls_port = free_port()
        parts["ssl"] = _SSL.format(cert=tls.cert_file, key=tls.key_file, ca=ca_copy)
        parts["imaps"] = _IMAPS.format(tls_port=tls_port)
        if introspect_url is not None:
            (root / "oauth2.conf").write_text(_OAUTH2_CONF.format(introspect_url=introspect_url, ca=ca_copy))
            parts["oauth_mechanisms"] = " xoauth2 oauthbearer"
            parts["oauth_passdb"] = _OAUTH_PASSDB.format(root=root)
    instance = f"{name}-{os.getpid()}-{secrets.token_hex(3)}"
    config = root / "dovecot.conf"
    config.write_text(_CONF.format(root=root, instance=instance, port=port, **parts))
    return config, port, tls_port


@dataclass
class DovecotServer:
    """A running private Dovecot with one user: how to reach it, empty it, fill it, count
    it, and ``stop()`` it (which also deletes its folder)."""

    host: str
    port: int
    tls_port: int | None
    user: str
    password: str
    ca_file: Path | None
    root: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    #: seconds a ``client()`` waits on the server (the benchmarks' bulk APPENDs want more)
    timeout: float = 10

    @classmethod
    def launch(
        cls,
        *,
        name: str = "test",
        password: str = PASSWORD,
        tls: TestCA | None = None,
        introspect_url: str | None = None,
        timeout: float = 10,
    ) -> Self:
        """Start one, greeting, on free loopback ports. ``tls``: also STARTTLS and implicit
        TLS with that CA's certificate; ``introspect_url`` (with ``tls``): OAuth logins
        whose tokens Dovecot checks there."""
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(binary):
            raise DovecotMissing("Dovecot is not installed (apt-get install dovecot-imapd)")
        if os.geteuid() != 0:
            raise DovecotMissing("the private Dovecot needs root (it drops to the dovecot/dovenull users)")
        # Not under pytest's tmp folder: that one is mode 0700, which user dovecot cannot enter.
        root = Path(tempfile.mkdtemp(prefix=f"mailbot-{name}-dovecot-"))
        config, port, tls_port = _write_config(root, name, password, tls, introspect_url)
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own config
            [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        ca_file = tls.ca_file if tls is not None else None
        server = cls("127.0.0.1", port, tls_port, USER, password, ca_file, root, process, timeout)
        if not _wait_for_greeting(server.host, port, process):
            process.kill()
            _out, err = process.communicate(timeout=5)
            message = f"Dovecot did not start: {err.decode(errors='replace')[-800:]}\n{server.log_tail()}"
            server.stop()
            raise DovecotFailed(message)
        return server

    @classmethod
    @contextlib.contextmanager
    def running(cls, **options: Any) -> Iterator[Self]:
        """``launch`` (same options) for a with-block, which stops it."""
        server = cls.launch(**options)
        try:
            yield server
        finally:
            server.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, scheme: str = "imap", folder: str = "INBOX") -> str:
        """A mailbox URL of INTERFACE.md for this server (user percent-encoded)."""
        port = self.tls_port if scheme == "imaps" else self.port
        return f"{scheme}://{self.user.replace('@', '%40')}@{self.host}:{port}/{folder}"

    def client(self) -> Any:
        """A raw IMAPClient logged in, for looking behind the bot's adapter."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=self.timeout)
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

    def append(self, raws: Iterable[bytes], folder: str = "INBOX", batch: int = 50) -> None:
        """APPEND every message, in order, on one connection (MULTIAPPEND, ``batch`` at a time)."""
        with self.client() as client:
            chunk: list[bytes] = []
            for raw in raws:
                chunk.append(raw)
                if len(chunk) == batch:
                    client.multiappend(folder, chunk)
                    chunk = []
            if chunk:
                client.multiappend(folder, chunk)

    def count(self, folder: str = "INBOX") -> int:
        """How many messages ``folder`` holds (0 when it does not exist)."""
        with self.client() as client:
            if folder.upper() != "INBOX" and not client.folder_exists(folder):
                return 0
            return int(client.select_folder(folder, readonly=True)[b"EXISTS"])

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.root / "dovecot.log").read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"
