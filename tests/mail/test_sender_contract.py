"""One contract, every sender: the file outbox, SMTP (a real aiosmtpd on loopback) and
Microsoft Graph's sendMail (the local stand-in, ``helpers/fake_graph.py``).

The relay-specific failures (4xx, 5xx, unreachable) are at the end for SMTP; Graph's
(429, 5xx, a refused message, unreachable) are in ``test_graph_contract.py``."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers.fake_graph import graph_sender_parts
from helpers.servers import SmtpServer

from mailbot.errors import PermanentSendError, TemporarySendError
from mailbot.mail.sender import OutboxFolderSender, Sender
from mailbot.mail.smtp import SmtpSender, SmtpSettings
from mailbot.mail.thread_headers import outbound_bytes


def reply(n: int = 1) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "cscp@example.org"
    message["To"] = "referrer@example.net"
    message["Subject"] = f"[COC-2026-000{n}] Referral received"
    message["Message-ID"] = f"<reply-{n}@mailbot.example.org>"
    message["In-Reply-To"] = "<inbound-1@example.net>"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("Thank you. Caf\u00e9 \u2013 a non-ASCII line.\n")
    return message


@dataclass
class SenderBackend:
    sender: Sender
    delivered: Callable[[], list[EmailMessage]]


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


@pytest.fixture(params=["outbox", "smtp", "graph"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SenderBackend]:
    if request.param == "graph":
        sender, delivered = graph_sender_parts(
            request.getfixturevalue("fake_graph"), request.getfixturevalue("token_endpoint")
        )
    elif request.param == "outbox":
        folder = tmp_path / "outbox"
        sender: Sender = OutboxFolderSender(folder)

        def delivered() -> list[EmailMessage]:
            return [_parse(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]

    else:
        server: SmtpServer = request.getfixturevalue("smtp_server")
        sender = SmtpSender(SmtpSettings(server.host, server.port, "plain", timeout=5))

        def delivered() -> list[EmailMessage]:
            return [_parse(r.data) for r in server.handler.received]

    yield SenderBackend(sender, delivered)
    sender.close()


def test_send_delivers_the_message(backend: SenderBackend) -> None:
    backend.sender.send(reply())
    [got] = backend.delivered()
    assert got["Subject"] == "[COC-2026-0001] Referral received"
    assert got["To"] == "referrer@example.net"
    # SMTP carries CRLF and the outbox file keeps LF: equal up to line endings
    assert got.get_content().replace("\r\n", "\n") == "Thank you. Caf\u00e9 \u2013 a non-ASCII line.\n"


def test_message_id_and_threading_headers_are_preserved(backend: SenderBackend) -> None:
    backend.sender.send(reply())
    [got] = backend.delivered()
    assert got["Message-ID"] == "<reply-1@mailbot.example.org>"
    assert got["In-Reply-To"] == "<inbound-1@example.net>"
    assert got["Auto-Submitted"] == "auto-replied"


def test_several_messages_all_arrive(backend: SenderBackend) -> None:
    for n in (1, 2, 3):
        backend.sender.send(reply(n))
    ids = sorted(str(m["Message-ID"]) for m in backend.delivered())
    assert ids == [f"<reply-{n}@mailbot.example.org>" for n in (1, 2, 3)]


def test_the_outbox_keeps_one_file_per_message_id(tmp_path: Path) -> None:
    sender = OutboxFolderSender(tmp_path / "outbox")
    sender.send(reply())
    sender.send(reply())  # a resend after a crash
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_smtp_4xx_is_temporary_and_the_next_try_goes_through(smtp_server: SmtpServer) -> None:
    sender = SmtpSender(SmtpSettings(smtp_server.host, smtp_server.port, "plain", timeout=5))
    smtp_server.handler.fail_next(451)
    with pytest.raises(TemporarySendError) as caught:
        sender.send(reply())
    assert not isinstance(caught.value, PermanentSendError)
    assert "451" in str(caught.value)
    sender.send(reply())  # the retry the drainer would make
    assert len(smtp_server.handler.received) == 1
    sender.close()


def test_smtp_5xx_is_permanent(smtp_server: SmtpServer) -> None:
    sender = SmtpSender(SmtpSettings(smtp_server.host, smtp_server.port, "plain", timeout=5))
    smtp_server.handler.fail_next(550)
    with pytest.raises(PermanentSendError, match="550"):
        sender.send(reply())
    assert smtp_server.handler.received == []
    sender.close()


def test_an_unreachable_relay_is_temporary() -> None:
    from helpers.servers import free_port

    sender = SmtpSender(SmtpSettings("127.0.0.1", free_port(), "plain", timeout=2))
    with pytest.raises(TemporarySendError, match="refused"):
        sender.send(reply())


def test_send_raw_delivers_the_stored_bytes(backend: SenderBackend) -> None:
    raw = outbound_bytes(reply(3), linesep="\r\n")  # as the outbox stores a reply
    backend.sender.send_raw(raw)
    [got] = backend.delivered()
    assert got["Message-ID"] == "<reply-3@mailbot.example.org>"
    assert got["In-Reply-To"] == "<inbound-1@example.net>"
    assert got.get_content().replace("\r\n", "\n") == "Thank you. Caf\u00e9 \u2013 a non-ASCII line.\n"


def test_send_raw_drops_a_bcc_header(backend: SenderBackend) -> None:
    """Senders that deliver drop Bcc from what the recipients see; the outbox folder
    delivers to nobody, so its file keeps the message whole (Bcc included)."""
    message = reply(4)
    message["Bcc"] = "hidden@example.net"
    backend.sender.send_raw(outbound_bytes(message, linesep="\r\n"))
    [got] = backend.delivered()
    kept = "hidden@example.net" if isinstance(backend.sender, OutboxFolderSender) else None
    assert got["Bcc"] == kept and got["Message-ID"] == "<reply-4@mailbot.example.org>"
