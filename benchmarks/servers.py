"""Servers for the benchmarks: the tests' private Dovecot and aiosmtpd, with what only a
benchmark needs on top.

Starting, stopping, configuring, resetting, APPENDing and counting are the tests' own code
(``tests/helpers/dovecot.py``, ``tests/helpers/smtp.py``: plain modules, no pytest;
``common`` puts ``tests/`` on ``sys.path``). Dovecot here is plain IMAP without TLS or
OAuth: the benchmarks measure the work, not the handshake. Added here: a timed bulk
APPEND of a corpus, delivery straight into the Maildir for backlogs too large to APPEND,
and an SMTP recorder that keeps, for each message it accepts, the arrival time and the
``In-Reply-To``/``To``/``Subject`` (not the bytes, so 10,000 replies stay small).

    with Dovecot.start() as dovecot, SmtpRecorder.start() as smtp:
        dovecot.reset(); dovecot.append_all(raws)
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import common  # noqa: F401 - first: it puts tests/ on sys.path, where helpers/ lives
from helpers.dovecot import DovecotFailed, DovecotMissing, DovecotServer
from helpers.smtp import RecordingHandler, SmtpServer

#: what ``bare.py`` logs in with unless told otherwise
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway password for a private server


class Dovecot(DovecotServer):
    """The tests' private Dovecot, plain IMAP only, ended with the with-block."""

    @classmethod
    @contextlib.contextmanager
    def start(cls) -> Iterator[Dovecot]:
        try:
            with cls.running(name="bench", password=PASSWORD, timeout=60) as server:
                yield server
        except (DovecotMissing, DovecotFailed) as exc:
            raise SystemExit(str(exc)) from exc

    def append_all(self, raws: Iterable[bytes], folder: str = "INBOX", batch: int = 50) -> float:
        """APPEND every message (MULTIAPPEND, ``batch`` at a time); the seconds it took."""
        started = time.perf_counter()
        self.append(raws, folder, batch)
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


@dataclass
class Arrival:
    at: float  # time.time() when DATA was accepted
    in_reply_to: str
    to: list[str]
    subject: str


_HEADER = re.compile(rb"^(In-Reply-To|Subject):[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


class _ArrivalHandler(RecordingHandler):
    """Keeps an ``Arrival`` for each message instead of its bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[Arrival] = []

    def record(self, envelope: Any) -> None:
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


class SmtpRecorder(SmtpServer):
    """The tests' aiosmtpd on loopback (plain, no AUTH, no size limit), recording arrivals."""

    handler: _ArrivalHandler

    @classmethod
    def start(cls) -> contextlib.AbstractContextManager[SmtpRecorder]:
        return cls.running(handler=_ArrivalHandler(), data_size_limit=0)

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
