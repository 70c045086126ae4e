"""Sending replies over SMTP (``smtps://``, ``smtp+starttls://``, ``smtp://``).

The outbox drainer in the core decides about retries; this adapter only says which
kind of failure it met: ``TemporarySendError`` (4xx, refused or lost connection,
timeout: try later) or ``PermanentSendError`` (5xx: this message will never go).

Recipients are the message's To and Cc, nothing else: a Bcc header is dropped, never
turned into a recipient. Log lines carry codes and counts, never addresses or subjects.
"""

from __future__ import annotations

import copy
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Literal

from mailbot.errors import PermanentSendError, SendError, TemporarySendError
from mailbot.mail.oauth import TokenError, TokenSource, xoauth2_string
from mailbot.mail.sender import crlf, headers_of
from mailbot.mail.thread_headers import with_outbound_policy

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "plain"]
#: A connection unused this long is probed with NOOP before the next message.
PROBE_AFTER = 1.0


class SendAuthError(TemporarySendError):
    """The relay refused our credentials.

    Temporary on purpose: the message itself is fine and must stay queued until a
    person fixes the password or the app registration; ``mailbot status`` shows the
    growing backlog.
    """


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand mail over; secrets stay out of ``repr``."""

    host: str
    port: int
    security: Security = "tls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token_provider: TokenSource | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout: float = 30.0
    #: The EHLO name; smtplib's default (``getfqdn``) can stall on a broken resolver.
    local_hostname: str = field(default_factory=socket.gethostname)


class SmtpSender:
    """The ``Sender`` protocol over smtplib; keeps one connection between sends."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._conn: smtplib.SMTP | None = None
        self._used = 0.0  # time.monotonic() of the last message handed over
        self._name = f"smtp://{settings.host}:{settings.port}"

    def send(self, message: EmailMessage) -> None:
        sender, recipients = envelope(message)
        # smtplib serialises with the message's policy: ours never encodes msg-ids
        outgoing = with_outbound_policy(_without_bcc(message))
        self._deliver(lambda conn: conn.send_message(outgoing, sender, recipients), len(recipients))

    def send_raw(self, raw: bytes) -> None:
        """The stored bytes as they are (``sendmail``: no parse, no re-serialising); a
        message with Bcc, or with addresses that need SMTPUTF8, goes the ``send`` way."""
        headers = headers_of(raw)
        sender, recipients = envelope(headers)
        if "Bcc" in headers or "Resent-Bcc" in headers or not all(a.isascii() for a in [sender, *recipients]):
            self.send(headers_of(raw, headersonly=False))
            return
        wire = crlf(raw)
        self._deliver(lambda conn: conn.sendmail(sender, recipients, wire), len(recipients))

    def _deliver(self, hand_over: Callable[[smtplib.SMTP], dict[str, tuple[int, bytes]]], count: int) -> None:
        try:
            refused = hand_over(self._connection())
            self._used = time.monotonic()
        except SendError:
            self._drop()
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            raise _classify_refusals(exc.recipients) from exc
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError) as exc:
            # a relay that will not talk to us now is not a verdict on this message
            self._drop()
            raise TemporarySendError(f"{self._name}: no session ({exc.smtp_code})") from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _by_code(exc.smtp_code, "the relay refused the message") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # SMTPServerDisconnected, SMTPNotSupportedError, refused, reset, timeout, TLS
            self._drop()
            raise TemporarySendError(f"{self._name}: {_describe(exc)}") from exc
        if refused:
            codes = sorted({code for code, _ in refused.values()})
            log.warning("%s: %d of %d recipients refused %s", self._name, len(refused), count, codes)

    def verify(self) -> None:
        """Greet the relay as a send would (TLS, EHLO, AUTH), then leave: `mailbot check`."""
        try:
            self._connection()
        except SendError:
            self._drop()
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TemporarySendError(f"{self._name}: {_describe(exc)}") from exc
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()  # the relay went first; just release the socket

    # -- connection ----------------------------------------------------------------

    def _connection(self) -> smtplib.SMTP:
        """Reuse the open connection, else open a new one. One idle for more than
        ``PROBE_AFTER`` seconds must answer NOOP first (relays close idle sessions).

        Probing before sending (not retrying after a failed send) means a message is
        never handed over twice because a reply was lost. In a drain, sends follow each
        other closely and are not probed: a relay that hangs up within that second fails
        the next send before any of it is accepted (TemporarySendError: that row waits
        for its backoff; nothing is sent twice).
        """
        if self._conn is not None and time.monotonic() - self._used < PROBE_AFTER:
            return self._conn
        if self._conn is not None:
            try:
                if self._conn.noop()[0] == 250:
                    return self._conn
            except (smtplib.SMTPException, OSError):
                pass  # the relay closed an idle connection; open a new one below
            self._drop()
        self._conn = self._open()
        return self._conn

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = _ssl_context(s.ca_file) if s.security != "plain" else None
        conn: smtplib.SMTP
        if s.security == "tls":
            conn = smtplib.SMTP_SSL(
                s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout, context=context
            )
        else:
            conn = smtplib.SMTP(s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if s.user:
                self._authenticate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _authenticate(self, conn: smtplib.SMTP) -> None:
        s = self.settings
        user = s.user or ""
        try:
            if s.token_provider is None:
                conn.login(user, s.password or "")
                return
            try:
                conn.auth("XOAUTH2", _xoauth2(user, _token(s.token_provider)))
            except smtplib.SMTPAuthenticationError:
                s.token_provider.invalidate()  # maybe revoked early: one fresh token
                conn.auth("XOAUTH2", _xoauth2(user, _token(s.token_provider)))
        except smtplib.SMTPAuthenticationError as exc:
            raise SendAuthError(f"{self._name}: login refused ({exc.smtp_code})") from exc

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """(envelope sender, recipients): From, and To + Cc without duplicates."""
    sender = parseaddr(str(message.get("Sender") or message.get("From") or ""))[1]
    headers = [str(v) for name in ("To", "Cc") for v in message.get_all(name, [])]
    recipients: list[str] = []
    for _, address in getaddresses(headers):
        if address and address.lower() not in {r.lower() for r in recipients}:
            recipients.append(address)
    if not recipients:
        raise PermanentSendError("the message has no To or Cc recipient")
    return sender, recipients


def _without_bcc(message: EmailMessage) -> EmailMessage:
    """A copy without Bcc: smtplib strips it too, but only if it builds the envelope."""
    if "Bcc" not in message and "Resent-Bcc" not in message:
        return message
    log.warning("a Bcc header was dropped from an outbound message")
    clone = copy.deepcopy(message)
    del clone["Bcc"]
    del clone["Resent-Bcc"]
    return clone


def _by_code(code: int, what: str) -> SendError:
    if 400 <= code < 500:
        return TemporarySendError(f"{what} for now ({code})")
    return PermanentSendError(f"{what} ({code})")


def _classify_refusals(refusals: dict[str, tuple[int, bytes]]) -> SendError:
    """All recipients refused: temporary only when every refusal was a 4xx."""
    codes = sorted({code for code, _ in refusals.values()})
    if all(400 <= code < 500 for code in codes):
        return TemporarySendError(f"the relay refused the recipients for now {codes}")
    return PermanentSendError(f"the relay refused the recipients {codes}")


def _xoauth2(user: str, token: str) -> Callable[..., str]:
    """smtplib's auth object: the initial response, then an empty answer to the error
    challenge (the server then fails the exchange with 535)."""
    calls = 0

    def answer(challenge: bytes | None = None) -> str:
        nonlocal calls
        calls += 1
        return xoauth2_string(user, token) if calls == 1 else ""

    return answer


def _token(provider: TokenSource) -> str:
    try:
        return provider.token()
    except TokenError as exc:
        raise SendAuthError(f"no access token: {exc}") from exc


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify the relay's certificate and name; ``ca_file`` replaces the system CAs."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _describe(exc: BaseException) -> str:
    """A short cause; smtplib wraps timeouts in SMTPServerDisconnected, so look inside."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return "certificate not trusted"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError):
            return "timed out"
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__
