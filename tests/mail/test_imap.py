"""IMAP specifics beyond the mailbox contract, against the private Dovecot.

TLS modes and certificate checks, refused logins, reconnecting after the server drops
us (``doveadm kick``), IDLE turns, the no-UIDPLUS move, stale UIDVALIDITY, XOAUTH2.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers.servers import GOOD_TOKEN, DovecotServer, free_port

from mailbot.errors import ConfigError, MailboxAuthError, MailboxConnectionError, MailboxError
from mailbot.mail.backoff import Backoff
from mailbot.mail.connect import open_mailbox
from mailbot.mail.imap import ImapMailbox, ImapSettings
from mailbot.mail.mailbox import PROCESSED, MailboxRef
from mailbot.mail.oauth import AccessToken, TokenProvider

RAW = b"From: a@example.net\r\nTo: cscp@example.org\r\nSubject: t\r\n\r\nbody\r\n"
FAST = Backoff(base=0.05, cap=0.2, attempts=4)


def imap(server: DovecotServer, **kwargs: object) -> ImapMailbox:
    settings = ImapSettings(server.host, server.port, server.user, "plain", password=server.password)
    return ImapMailbox(settings, backoff=FAST, **kwargs)  # type: ignore[arg-type]


def kick(server: DovecotServer) -> None:
    """Make Dovecot drop every connection of the user, as a server restart would."""
    subprocess.run(
        ["doveadm", "-c", str(server.root / "dovecot.conf"), "kick", server.user],
        check=True,
        capture_output=True,
    )


# -- TLS -------------------------------------------------------------------------------


def test_imaps_with_the_test_ca(dovecot_account: DovecotServer, tmp_path: Path) -> None:
    box = open_mailbox(
        dovecot_account.url("imaps"),
        password=dovecot_account.password,
        base_dir=tmp_path,
        ca_file=str(dovecot_account.ca_file),
    )
    box.append(RAW)
    assert len(box.list_new()) == 1
    assert box.identity == f"imap://cscp%40example.org@127.0.0.1:{dovecot_account.tls_port}"
    box.close()


def test_imap_starttls_with_the_test_ca(dovecot_account: DovecotServer, tmp_path: Path) -> None:
    box = open_mailbox(
        dovecot_account.url("imap+starttls"),
        password=dovecot_account.password,
        base_dir=tmp_path,
        ca_file=str(dovecot_account.ca_file),
    )
    box.append(RAW)
    assert len(box.list_new()) == 1
    box.close()


def test_an_untrusted_certificate_is_refused_without_retrying(dovecot: DovecotServer) -> None:
    settings = ImapSettings(
        dovecot.host, dovecot.tls_port, dovecot.user, "tls", password=dovecot.password
    )  # no ca_file: the system store does not know the test CA
    box = ImapMailbox(settings, backoff=Backoff(base=5, attempts=3))
    started = time.monotonic()
    with pytest.raises(MailboxError, match="certificate") as caught:
        box.list_new()
    assert not isinstance(caught.value, MailboxConnectionError)
    assert time.monotonic() - started < 2  # no 5 s backoff sleeps happened


def test_plain_imap_to_another_machine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        open_mailbox("imap://u@mail.example.org/INBOX", password="x", base_dir=tmp_path)
    assert caught.value.setting == "mailbox.url"


# -- logins ----------------------------------------------------------------------------


def test_a_wrong_password_is_an_auth_error_at_once(dovecot: DovecotServer) -> None:
    settings = ImapSettings(dovecot.host, dovecot.port, dovecot.user, "plain", password="wrong")
    box = ImapMailbox(settings, backoff=Backoff(base=5, attempts=3))
    started = time.monotonic()
    with pytest.raises(MailboxAuthError) as caught:
        box.list_new()
    assert time.monotonic() - started < 2  # refused once, no retry loop
    assert "wrong" not in str(caught.value)


def test_xoauth2_login_with_a_token(dovecot_account: DovecotServer) -> None:
    provider = TokenProvider(lambda skip_cache: AccessToken(GOOD_TOKEN, 3600))
    settings = ImapSettings(
        dovecot_account.host, dovecot_account.port, dovecot_account.user, "plain", token_provider=provider
    )
    box = ImapMailbox(settings)
    box.append(RAW)
    assert len(box.list_new()) == 1
    box.close()


def test_a_refused_token_is_replaced_once_then_an_auth_error(dovecot: DovecotServer) -> None:
    asked: list[bool] = []

    def fetch(skip_cache: bool) -> AccessToken:
        asked.append(skip_cache)
        return AccessToken("not-a-valid-token", 3600)

    settings = ImapSettings(
        dovecot.host, dovecot.port, dovecot.user, "plain", token_provider=TokenProvider(fetch)
    )
    with pytest.raises(MailboxAuthError):
        ImapMailbox(settings, backoff=Backoff(base=5, attempts=3)).list_new()
    assert asked == [False, True]


# -- dropped connections -------------------------------------------------------------


def test_a_dropped_connection_is_reopened_and_logged_once(
    dovecot_account: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    box = imap(dovecot_account)
    box.append(RAW)
    [ref] = box.list_new()
    kick(dovecot_account)
    with caplog.at_level(logging.DEBUG, logger="mailbot.mail.imap"):
        assert box.fetch(ref) == RAW  # transparently on a new connection
        box.move(ref, PROCESSED)
    lost = [r for r in caplog.records if "connection lost" in r.getMessage()]
    restored = [r for r in caplog.records if "restored" in r.getMessage()]
    assert len(lost) == 1 and len(restored) == 1
    assert all("cscp" not in r.getMessage() for r in caplog.records)  # no account names
    assert box.list_new() == []
    box.close()


def test_an_unreachable_server_gives_up_after_the_backoff(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    settings = ImapSettings("127.0.0.1", free_port(), "u", "plain", password="x", timeout=2)
    box = ImapMailbox(settings, backoff=Backoff(base=1, cap=4, attempts=4), sleep=slept.append)
    with caplog.at_level(logging.DEBUG, logger="mailbot.mail.imap"):
        with pytest.raises(MailboxConnectionError):
            box.list_new()
    assert len(slept) == 3  # between four tries
    assert 0.5 <= slept[0] <= 1 and 1 <= slept[1] <= 2 and 2 <= slept[2] <= 4
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1  # one line per outage, not per try


def test_wait_for_new_survives_a_drop_during_idle(dovecot_account: DovecotServer) -> None:
    box, other = imap(dovecot_account), imap(dovecot_account)
    box.list_new()

    def drop_then_deliver() -> None:
        time.sleep(0.4)
        kick(dovecot_account)
        time.sleep(0.4)
        other.append(RAW)

    thread = threading.Thread(target=drop_then_deliver)
    thread.start()
    assert box.wait_for_new(10) is True
    thread.join()
    assert len(box.list_new()) == 1
    box.close()
    other.close()


# -- IDLE turns, moves, UIDVALIDITY ---------------------------------------------------


def test_idle_is_reissued_in_short_turns(dovecot_account: DovecotServer) -> None:
    box, other = imap(dovecot_account, idle_cap=0.3), imap(dovecot_account)
    box.list_new()
    started = time.monotonic()
    assert box.wait_for_new(1.0) is False  # several turns, each ended and re-issued
    assert 0.95 <= time.monotonic() - started < 2.5
    timer = threading.Timer(0.8, other.append, args=(RAW,))
    timer.start()
    assert box.wait_for_new(10) is True  # mail arriving in a later turn is seen
    timer.join()
    box.close()
    other.close()


def test_move_without_uidplus_leaves_a_deleted_copy_that_is_not_listed(
    dovecot_account: DovecotServer,
) -> None:
    box = imap(dovecot_account, disabled_capabilities=frozenset({"MOVE", "UIDPLUS"}))
    box.append(RAW)
    [ref] = box.list_new()
    box.move(ref, PROCESSED)
    box.move(ref, PROCESSED)
    assert box.list_new() == []
    with dovecot_account.client() as client:
        client.select_folder("INBOX", readonly=True)
        assert client.search(["DELETED"]) == [int(ref.uid)]  # flagged, not expunged
        client.select_folder(PROCESSED, readonly=True)
        assert len(client.search("ALL")) == 1  # and copied exactly once
    box.close()


def test_a_ref_from_an_older_uidvalidity_is_never_acted_on(dovecot_account: DovecotServer) -> None:
    box = imap(dovecot_account)
    box.append(RAW)
    [ref] = box.list_new()
    stale = MailboxRef(ref.mailbox, ref.folder, str(int(ref.uidvalidity) - 1), ref.uid)
    with pytest.raises(MailboxError, match="renumbered"):
        box.fetch(stale)
    box.move(stale, PROCESSED)  # refused quietly: the UID may name another message now
    assert box.list_new() == [ref]
    box.close()


def test_the_folder_in_the_url_is_the_inbox(dovecot_account: DovecotServer, tmp_path: Path) -> None:
    with dovecot_account.client() as client:
        client.create_folder("Referrals")
        client.append("Referrals", RAW)
    box = open_mailbox(
        dovecot_account.url("imap", folder="Referrals"), password=dovecot_account.password, base_dir=tmp_path
    )
    [ref] = box.list_new()
    assert ref.folder == "Referrals"
    box.move(ref, PROCESSED)
    assert box.list_new() == []
    box.close()


# -- mailbox.url ----------------------------------------------------------------------


def test_maildir_paths_are_relative_to_the_base_dir(tmp_path: Path) -> None:
    box = open_mailbox("maildir:var/inbox", password=None, base_dir=tmp_path)
    assert box.identity == f"maildir:{tmp_path / 'var' / 'inbox'}"
    assert (tmp_path / "var" / "inbox" / "new").is_dir()
    absolute = open_mailbox(f"maildir:{tmp_path / 'abs'}", password=None, base_dir=Path("/nowhere"))
    assert absolute.identity == f"maildir:{tmp_path / 'abs'}"


@pytest.mark.parametrize(
    ("url", "port", "folder"),
    [
        ("imaps://cscp%40example.org@mail.example.org/INBOX", 993, "INBOX"),
        ("imap+starttls://cscp%40example.org@mail.example.org", 143, "INBOX"),
        ("imap://u@127.0.0.1/Referrals%20In", 143, "Referrals In"),
        ("imaps://u@[::1]:10993/INBOX", 10993, "INBOX"),
    ],
)
def test_imap_urls_default_their_ports(url: str, port: int, folder: str, tmp_path: Path) -> None:
    box = open_mailbox(url, password="x", base_dir=tmp_path)  # nothing connects yet
    assert isinstance(box, ImapMailbox)
    assert (box.settings.port, box.settings.folder) == (port, folder)
    assert box.settings.user in ("cscp@example.org", "u")


@pytest.mark.parametrize(
    ("url", "setting", "problem"),
    [
        ("imaps://mail.example.org/INBOX", "mailbox.url", "user name"),
        ("imaps://u:hunter2@mail.example.org/INBOX", "mailbox.url", "password"),
        ("imap://u@10.0.0.5/INBOX", "mailbox.url", "unencrypted"),
        ("pop3://u@mail.example.org", "mailbox.url", "unknown scheme"),
        ("imaps://u@mail.example.org:99999/INBOX", "mailbox.url", "port"),
        ("imaps://u@mail.example.org/INBOX?x=1", "mailbox.url", "query"),
        ("maildir:", "mailbox.url", "needs a folder"),
        ("var/inbox", "mailbox.url", "not a URL"),
    ],
)
def test_bad_mailbox_urls_name_the_setting(url: str, setting: str, problem: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        open_mailbox(url, password="x", base_dir=tmp_path)
    assert caught.value.setting == setting
    assert problem in caught.value.problem
    assert "hunter2" not in str(caught.value)


def test_an_imap_url_without_any_credential_names_the_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        open_mailbox("imaps://u@mail.example.org/INBOX", password=None, base_dir=tmp_path)
    assert caught.value.setting == "mailbox.password"
