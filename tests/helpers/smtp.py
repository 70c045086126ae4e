"""An aiosmtpd server on loopback from plain code: the ``smtp_server`` fixtures
(``helpers/servers.py``) and the benchmarks' recorder (``benchmarks/servers.py``) both
start theirs here. No pytest in this module: the benchmarks run without it.

``RecordingHandler`` keeps each message it accepts (``record``; the benchmarks keep less)
and can be told to refuse the next few; ``SmtpServer.launch`` starts it plain, with
STARTTLS and AUTH required, or over implicit TLS.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from helpers.loopback import TestCA, free_port


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
        self.lock = threading.Lock()
        #: Accepted (user, secret) pairs when AUTH is on; the secret may be a token.
        self.accepted: set[tuple[str, str]] = set()
        self.logins: list[tuple[str, str]] = []

    def fail_next(self, code: int, count: int = 1) -> None:
        with self.lock:
            self._failures.extend([code] * count)

    def record(self, envelope: Any) -> None:
        """Keep an accepted message (whole: tests look at its bytes)."""
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        with self.lock:
            self.received.append(received)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            code = self._failures.pop(0) if self._failures else None
        if code is not None:
            text = "4.3.0 Try again later" if code < 500 else "5.7.1 Refused"
            return f"{code} {text}"
        self.record(envelope)
        return "250 OK"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
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


def _authenticator(handler: RecordingHandler) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        if isinstance(auth_data, LoginPassword):
            pair = (auth_data.login.decode(), auth_data.password.decode())
            handler.logins.append(pair)
            return AuthResult(success=pair in handler.accepted, handled=False)
        return AuthResult(success=False, handled=False)

    return check


@dataclass
class SmtpServer:
    """A running aiosmtpd on loopback; ``stop()`` ends it."""

    host: str
    port: int
    handler: RecordingHandler
    ca_file: Path | None = None
    controller: Any = field(default=None, repr=False)

    @classmethod
    def launch(
        cls,
        mode: str = "plain",
        ca: TestCA | None = None,
        handler: RecordingHandler | None = None,
        **options: Any,
    ) -> Self:
        """mode: ``plain``, ``starttls`` (STARTTLS + AUTH required) or ``tls`` (implicit);
        ``options`` go to aiosmtpd's ``Controller`` (``data_size_limit=0``: no limit)."""
        from aiosmtpd.controller import Controller

        handler = handler if handler is not None else RecordingHandler()
        if mode == "starttls":
            assert ca is not None
            options |= {
                "tls_context": ca.server_context(),
                "require_starttls": True,
                "auth_require_tls": True,
                "auth_required": True,
                "authenticator": _authenticator(handler),
            }
        elif mode == "tls":
            assert ca is not None
            options |= {
                "ssl_context": ca.server_context(),
                "authenticator": _authenticator(handler),
                "auth_require_tls": False,
            }
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
        controller.start()
        return cls("127.0.0.1", controller.port, handler, ca.ca_file if ca is not None else None, controller)

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        mode: str = "plain",
        ca: TestCA | None = None,
        handler: RecordingHandler | None = None,
        **options: Any,
    ) -> Iterator[Self]:
        """``launch`` for a with-block, which stops it."""
        server = cls.launch(mode, ca, handler, **options)
        try:
            yield server
        finally:
            server.stop()

    def stop(self) -> None:
        self.controller.stop()

    def url(self, scheme: str = "smtp", user: str | None = None) -> str:
        who = f"{user.replace('@', '%40')}@" if user else ""
        return f"{scheme}://{who}{self.host}:{self.port}"
