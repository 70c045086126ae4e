"""SMTP specifics beyond the sender contract: recipients, TLS, AUTH, XOAUTH2, timeouts."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers.servers import SmtpServer, free_port

from mailbot.errors import ConfigError, PermanentSendError, TemporarySendError
from mailbot.mail.connect import open_sender
from mailbot.mail.oauth import AccessToken, TokenProvider
from mailbot.mail.smtp import SendAuthError, SmtpSender, SmtpSettings, envelope

USER = "cscp@example.org"


def message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "cscp@example.org"
    msg["Message-ID"] = "<smtp-test-1@mailbot.example.org>"
    msg["Subject"] = "[COC-2026-0001] Referral received"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("body\n")
    return msg


def plain(server: SmtpServer, **kwargs: object) -> SmtpSender:
    return SmtpSender(SmtpSettings(server.host, server.port, "plain", timeout=5, **kwargs))  # type: ignore[arg-type]


# -- recipients ---------------------------------------------------------------------


def test_recipients_are_to_and_cc_only(smtp_server: SmtpServer) -> None:
    sender = plain(smtp_server)
    sender.send(message(To="a@example.net", Cc="b@example.net, A@example.net", Bcc="hidden@example.net"))
    [got] = smtp_server.handler.received
    assert got.rcpt_tos == ["a@example.net", "b@example.net"]  # A@ is a@ again
    assert got.mail_from == "cscp@example.org"
    parsed = email.message_from_bytes(got.data, policy=email.policy.default)
    assert "Bcc" not in parsed and b"hidden@example.net" not in got.data
    sender.close()


def test_the_callers_message_keeps_its_bcc(smtp_server: SmtpServer) -> None:
    original = message(To="a@example.net", Bcc="hidden@example.net")
    plain(smtp_server).send(original)
    assert original["Bcc"] == "hidden@example.net"  # we sent a copy, not a mutation


def test_a_message_without_recipients_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(PermanentSendError, match="no To or Cc"):
        plain(smtp_server).send(message(Bcc="hidden@example.net"))
    assert smtp_server.handler.received == []


def test_envelope_reads_display_names() -> None:
    sender, rcpts = envelope(message(To='"Referrer, Team" <r@example.net>'))
    assert (sender, rcpts) == ("cscp@example.org", ["r@example.net"])


# -- connection handling ----------------------------------------------------------


def test_one_connection_serves_several_messages(smtp_server: SmtpServer) -> None:
    sender = plain(smtp_server)
    sender.send(message(To="a@example.net"))
    first = sender._conn  # noqa: SLF001 - white-box: reuse is the point of this test
    sender.send(message(To="b@example.net"))
    assert sender._conn is first and first is not None  # noqa: SLF001
    assert len(smtp_server.handler.received) == 2
    sender.close()


def test_several_temporary_refusals_in_a_row(smtp_server: SmtpServer) -> None:
    sender = plain(smtp_server)
    smtp_server.handler.fail_next(451, 2)
    for _ in range(2):
        with pytest.raises(TemporarySendError):
            sender.send(message(To="a@example.net"))
    sender.send(message(To="a@example.net"))
    assert len(smtp_server.handler.received) == 1


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_a_silent_relay_times_out_as_temporary(silent_server: int) -> None:
    sender = SmtpSender(SmtpSettings("127.0.0.1", silent_server, "plain", timeout=0.5))
    started = time.monotonic()
    with pytest.raises(TemporarySendError, match="timed out"):
        sender.send(message(To="a@example.net"))
    assert time.monotonic() - started < 3


# -- TLS and AUTH --------------------------------------------------------------------


def test_starttls_with_password(smtp_starttls_server: SmtpServer) -> None:
    server = smtp_starttls_server
    server.handler.accepted.add((USER, "pw-1"))
    sender = SmtpSender(
        SmtpSettings(
            server.host,
            server.port,
            "starttls",
            user=USER,
            password="pw-1",
            ca_file=str(server.ca_file),
            timeout=5,
        )
    )
    sender.send(message(To="a@example.net"))
    assert len(server.handler.received) == 1
    assert server.handler.logins == [(USER, "pw-1")]
    sender.close()


def test_a_refused_password_is_an_auth_error_that_keeps_the_message(smtp_starttls_server: SmtpServer) -> None:
    server = smtp_starttls_server
    sender = SmtpSender(
        SmtpSettings(
            server.host,
            server.port,
            "starttls",
            user=USER,
            password="wrong",
            ca_file=str(server.ca_file),
            timeout=5,
        )
    )
    with pytest.raises(SendAuthError) as caught:
        sender.send(message(To="a@example.net"))
    assert isinstance(caught.value, TemporarySendError)  # kept queued, not given up
    assert "wrong" not in str(caught.value)
    assert server.handler.received == []


def test_an_untrusted_certificate_is_refused(smtp_starttls_server: SmtpServer) -> None:
    server = smtp_starttls_server
    server.handler.accepted.add((USER, "pw-1"))
    sender = SmtpSender(
        SmtpSettings(server.host, server.port, "starttls", user=USER, password="pw-1", timeout=5)
    )  # no ca_file: the system store does not know the test CA
    with pytest.raises(TemporarySendError, match="certificate not trusted"):
        sender.send(message(To="a@example.net"))
    assert server.handler.logins == []  # the password never left


def test_smtps_implicit_tls(smtps_server: SmtpServer) -> None:
    server = smtps_server
    sender = SmtpSender(SmtpSettings(server.host, server.port, "tls", ca_file=str(server.ca_file), timeout=5))
    sender.send(message(To="a@example.net"))
    assert len(server.handler.received) == 1
    sender.close()


def test_xoauth2_with_a_token_provider(smtp_starttls_server: SmtpServer) -> None:
    server = smtp_starttls_server
    tokens = iter(["revoked-token", "fresh-token"])
    fetched: list[bool] = []

    def fetch(skip_cache: bool) -> AccessToken:
        fetched.append(skip_cache)
        return AccessToken(next(tokens), 3600)

    server.handler.accepted.add((USER, "fresh-token"))
    sender = SmtpSender(
        SmtpSettings(
            server.host,
            server.port,
            "starttls",
            user=USER,
            token_provider=TokenProvider(fetch),
            ca_file=str(server.ca_file),
            timeout=5,
        )
    )
    sender.send(message(To="a@example.net"))
    # the first token was refused, so the provider fetched once more, past any cache
    assert server.handler.logins == [(USER, "revoked-token"), (USER, "fresh-token")]
    assert fetched == [False, True]
    assert len(server.handler.received) == 1
    sender.close()


# -- URLs ----------------------------------------------------------------------------


def test_open_sender_from_a_url(smtp_starttls_server: SmtpServer, tmp_path: Path) -> None:
    server = smtp_starttls_server
    server.handler.accepted.add((USER, "pw-1"))
    url = f"smtp+starttls://cscp%40example.org@127.0.0.1:{server.port}"
    sender = open_sender(url, password="pw-1", base_dir=tmp_path, ca_file=str(server.ca_file))
    sender.send(message(To="a@example.net"))
    assert server.handler.logins == [(USER, "pw-1")]
    sender.close()


def test_plain_smtp_to_another_machine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        open_sender("smtp://relay.example.org", password=None, base_dir=tmp_path)
    assert caught.value.setting == "outbound.url"


def test_the_connection_refused_port_is_temporary() -> None:
    sender = SmtpSender(SmtpSettings("127.0.0.1", free_port(), "tls", timeout=2))
    with pytest.raises(TemporarySendError):
        sender.send(message(To="a@example.net"))


def test_outbox_paths_are_relative_to_the_base_dir(tmp_path: Path) -> None:
    from mailbot.mail.sender import OutboxFolderSender

    sender = open_sender("outbox:var/outbox", password=None, base_dir=tmp_path)
    assert isinstance(sender, OutboxFolderSender)
    assert sender.folder == tmp_path / "var" / "outbox"


@pytest.mark.parametrize(
    ("url", "port", "security", "user"),
    [
        ("smtps://relay.example.org", 465, "tls", None),
        ("smtp+starttls://cscp%40example.org@relay.example.org", 587, "starttls", "cscp@example.org"),
        ("smtp://localhost", 25, "plain", None),
        ("smtps://relay.example.org:2465", 2465, "tls", None),
    ],
)
def test_smtp_urls_default_their_ports(
    url: str, port: int, security: str, user: str | None, tmp_path: Path
) -> None:
    sender = open_sender(url, password="x", base_dir=tmp_path)  # nothing connects yet
    assert isinstance(sender, SmtpSender)
    assert (sender.settings.port, sender.settings.security, sender.settings.user) == (port, security, user)


@pytest.mark.parametrize(
    ("url", "setting", "problem"),
    [
        ("smtps://u:hunter2@relay.example.org", "outbound.url", "password"),
        ("smtps://relay.example.org/path", "outbound.url", "no path"),
        ("smtp://192.0.2.7", "outbound.url", "unencrypted"),
        ("http://relay.example.org", "outbound.url", "unknown scheme"),
        ("outbox:", "outbound.url", "needs a folder"),
        ("smtp+starttls://u@relay.example.org", "outbound.password", "password"),
    ],
)
def test_bad_outbound_urls_name_the_setting(url: str, setting: str, problem: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        open_sender(url, password=None if "u@" in url else "x", base_dir=tmp_path)
    assert caught.value.setting == setting
    assert problem in caught.value.problem
    assert "hunter2" not in str(caught.value)
