"""Servers for the benchmarks, from a plain script: a private Dovecot and an aiosmtpd relay.

The Dovecot setup follows ``tests/helpers/servers.py`` (and ``../shared/NOTES.md``): its
own config, ``base_dir`` and ``passwd-file`` in a temporary folder, mail processes as the
``dovecot`` user, logins as ``dovenull``, plain IMAP on a free loopback port (no TLS, no
OAuth: the benchmarks measure the work, not the handshake). That module is a pytest
plugin, so the few lines needed are here rather than imported.

``SmtpRecorder`` keeps, for each message it accepts, the arrival time and the
``In-Reply-To``/``To`` (not the bytes, so 10,000 replies stay small).

    with Dovecot.start() as dovecot, SmtpRecorder.start() as smtp:
        dovecot.reset(); dovecot.append_all(raws)
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

USER = "cscp@example.org"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway password for a private server

_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = mailbot-bench-{instance}
protocols = imap
listen = 127.0.0.1
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
ssl = no
mail_location = maildir:{root}/mail/%u
mail_privileged_group =
imap_idle_notify_interval = 2 mins
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _greeting(port: int, process: subprocess.Popen[bytes], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class Dovecot:
    """A running private Dovecot with one user; ``stop()`` (or the with-block) ends it."""

    port: int
    root: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    @classmethod
    @contextlib.contextmanager
    def start(cls) -> Iterator[Dovecot]:
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(binary):
            raise SystemExit("Dovecot is not installed (apt-get install dovecot-imapd)")
        if os.geteuid() != 0:
            raise SystemExit("the private Dovecot needs root (it drops to the dovecot/dovenull users)")
        root = Path(tempfile.mkdtemp(prefix="mailbot-bench-dovecot-"))
        os.chmod(root, 0o755)
        owner = pwd.getpwnam("dovecot")
        for sub in ("mail", "home"):
            (root / sub).mkdir()
            os.chown(root / sub, owner.pw_uid, owner.pw_gid)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        port = free_port()
        config = root / "dovecot.conf"
        instance = f"{os.getpid()}-{secrets.token_hex(3)}"
        config.write_text(_CONF.format(root=root, instance=instance, port=port))
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own config
            [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        server = cls(port, root, process)
        try:
            if not _greeting(port, process):
                process.kill()
                _out, err = process.communicate(timeout=5)
                raise SystemExit(f"Dovecot did not start: {err.decode(errors='replace')[-800:]}")
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

    def url(self, folder: str = "INBOX") -> str:
        """The bot's MAILBOT_MAILBOX_URL for this server."""
        return f"imap://{self.user.replace('@', '%40')}@{self.host}:{self.port}/{folder}"

    def client(self) -> Any:
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=60)
        client.login(self.user, self.password)
        return client

    def reset(self) -> None:
        """Every folder but INBOX deleted, INBOX emptied."""
        with self.client() as client:
            for _flags, _delim, name in client.list_folders():
                if name.upper() != "INBOX":
                    client.delete_folder(name)
            client.select_folder("INBOX")
            uids = client.search("ALL")
            if uids:
                client.delete_messages(uids)
                client.expunge()

    def append_all(self, raws: Iterable[bytes], folder: str = "INBOX", batch: int = 50) -> float:
        """APPEND every message (MULTIAPPEND, ``batch`` at a time); the seconds it took."""
        started = time.perf_counter()
        with self.client() as client:
            chunk: list[bytes] = []
            for raw in raws:
                chunk.append(raw)
                if len(chunk) == batch:
                    client.multiappend(folder, chunk)
                    chunk = []
            if chunk:
                client.multiappend(folder, chunk)
        return time.perf_counter() - started

    def deliver_files(self, raws: Iterable[bytes]) -> float:
        """Put messages straight into INBOX's Maildir ``new/`` (as local delivery does,
        owned by ``dovecot``): for backlogs too large to APPEND in good time. Dovecot
        indexes them at the next SELECT. The seconds it took."""
        started = time.perf_counter()
        self.count()  # the first login creates the user's Maildir
        inbox = self.root / "mail" / self.user
        owner = pwd.getpwnam("dovecot")
        host = socket.gethostname()
        for n, raw in enumerate(raws):
            name = f"{int(time.time())}.M{n}P{os.getpid()}.{host},S={len(raw)}"
            path = inbox / "tmp" / name
            path.write_bytes(raw)
            os.chown(path, owner.pw_uid, owner.pw_gid)
            path.rename(inbox / "new" / name)
        return time.perf_counter() - started

    def count(self, folder: str = "INBOX") -> int:
        with self.client() as client:
            if folder.upper() != "INBOX" and not client.folder_exists(folder):
                return 0
            return int(client.select_folder(folder, readonly=True)[b"EXISTS"])

    def folders(self) -> dict[str, int]:
        """Each folder and how many messages it holds."""
        out = {}
        with self.client() as client:
            for _flags, _delim, name in client.list_folders():
                out[str(name)] = int(client.folder_status(name, [b"MESSAGES"])[b"MESSAGES"])
        return out


@dataclass
class Arrival:
    at: float  # time.time() when DATA was accepted
    in_reply_to: str
    to: list[str]
    subject: str


_HEADER = re.compile(rb"^(In-Reply-To|Subject):[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


class _Handler:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.time()
        data = bytes(envelope.content)
        head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        found = {
            m.group(1).lower(): re.sub(rb"\s+", b" ", m.group(2)).strip() for m in _HEADER.finditer(head)
        }
        arrival = Arrival(
            now,
            found.get(b"in-reply-to", b"").decode(errors="replace"),
            list(envelope.rcpt_tos),
            found.get(b"subject", b"").decode(errors="replace"),
        )
        with self.lock:
            self.arrivals.append(arrival)
        return "250 OK"


@dataclass
class SmtpRecorder:
    """An aiosmtpd server on loopback (plain, no AUTH) that records arrivals."""

    host: str
    port: int
    handler: _Handler = field(repr=False)

    @classmethod
    @contextlib.contextmanager
    def start(cls) -> Iterator[SmtpRecorder]:
        from aiosmtpd.controller import Controller

        handler = _Handler()
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), data_size_limit=0)
        controller.start()
        try:
            yield cls("127.0.0.1", controller.port, handler)
        finally:
            controller.stop()

    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.arrivals.clear()

    def arrivals(self) -> list[Arrival]:
        with self.handler.lock:
            return list(self.handler.arrivals)

    def replies_to(self, message_ids: set[str]) -> dict[str, int]:
        """How many replies arrived for each of ``message_ids`` (by In-Reply-To)."""
        counts: dict[str, int] = {}
        for arrival in self.arrivals():
            if arrival.in_reply_to in message_ids:
                counts[arrival.in_reply_to] = counts.get(arrival.in_reply_to, 0) + 1
        return counts
