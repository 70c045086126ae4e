"""IMAP batches against the private Dovecot: ``fetch_many`` in several chunks (by count
and by size), a UID gone between the listing and the fetch, one ``UID MOVE`` for a set,
the COPY + EXPUNGE fallback touching exactly our UIDs, repeats, and the round trips."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator

import pytest
from helpers.servers import DovecotServer
from imapclient import IMAPClient

from mailbot.mail import imap_batch
from mailbot.mail.imap import ImapMailbox, ImapSettings
from mailbot.mail.mailbox import OTHER, PROCESSED, QUARANTINE, MailboxRef


def message(n: int, body: bytes = b"") -> bytes:
    """A distinct CRLF message whose Message-ID is 70-120 characters long."""
    mid = f"<{n:06d}.{'x' * (28 + n % 51)}@referrals.example-council.gov.uk>"
    assert 70 <= len(mid) <= 120
    return (
        f"From: sender@example.net\r\nTo: cscp@example.org\r\nSubject: batch {n}\r\n"
        f"Message-ID: {mid}\r\n\r\nbody {n}\r\n"
    ).encode() + body


def imap(server: DovecotServer, **kwargs: object) -> ImapMailbox:
    settings = ImapSettings(server.host, server.port, server.user, "plain", password=server.password)
    return ImapMailbox(settings, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every IMAP command sent by any client in this test (one round trip each): through
    imaplib, or imapclient's own sender (SEARCH, APPEND...)."""
    sent: list[str] = []
    through_imaplib = imaplib.IMAP4._command
    through_imapclient = IMAPClient._raw_command

    def imaplib_command(self: imaplib.IMAP4, name: str, *args: object) -> object:
        sent.append(f"UID {args[0]}" if name == "UID" else name)
        return through_imaplib(self, name, *args)  # type: ignore[arg-type]

    def imapclient_command(self: IMAPClient, command: bytes, args: object, uid: bool = True) -> object:
        sent.append(("UID " if uid else "") + command.decode().upper())
        return through_imapclient(self, command, args, uid)

    monkeypatch.setattr(imaplib.IMAP4, "_command", imaplib_command)
    monkeypatch.setattr(IMAPClient, "_raw_command", imapclient_command)
    return sent


@pytest.fixture
def box(dovecot_account: DovecotServer) -> Iterator[ImapMailbox]:
    mailbox = imap(dovecot_account)
    yield mailbox
    mailbox.close()


def deliver(server: DovecotServer, messages: list[bytes]) -> None:
    with server.client() as client:
        for raw in messages:
            client.append("INBOX", raw)


def folder_uids(server: DovecotServer, folder: str) -> list[int]:
    with server.client() as client:
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        return sorted(client.search(["NOT", "DELETED"]))


# -- pure helpers ------------------------------------------------------------------------


def test_chunks_are_bounded_by_count_and_by_size_and_skip_gone_uids() -> None:
    sizes = {1: 10, 2: 10, 3: 10, 4: 50, 6: 10, 7: 10}
    assert list(imap_batch.chunks([1, 2, 3, 4, 5, 6, 7], sizes, count=2, limit=30)) == [
        [1, 2],
        [3],
        [4],
        [6, 7],
    ]
    assert list(imap_batch.chunks([5], sizes)) == []


def test_windows_split_by_folder_and_length() -> None:
    refs = [MailboxRef("m", folder, "7", str(n)) for n, folder in enumerate("AAABA")]
    assert [[r.uid for r in w] for w in imap_batch.windows(refs, size=2)] == [["0", "1"], ["2"], ["3"], ["4"]]


# -- fetch_many ----------------------------------------------------------------------------


def test_fetch_many_in_several_chunks_is_byte_exact(
    box: ImapMailbox, dovecot_account: DovecotServer, commands: list[str]
) -> None:
    raws = [message(n) for n in range(23)]
    deliver(dovecot_account, raws)
    refs = box.list_new()
    box.fetch_count = 5
    commands.clear()
    assert list(box.fetch_many(refs)) == list(zip(refs, raws, strict=True))
    fetches = [c for c in commands if c == "UID FETCH"]
    assert len(fetches) == 1 + 5  # the sizes once, then ceil(23 / 5) bodies
    assert "SELECT" not in commands and "NOOP" not in commands  # listed just now: still selected


def test_fetch_many_bounds_a_chunk_by_size(
    box: ImapMailbox, dovecot_account: DovecotServer, commands: list[str]
) -> None:
    raws = [message(n, b"y" * 3000 + b"\r\n") for n in range(6)]
    deliver(dovecot_account, raws)
    refs = box.list_new()
    box.fetch_bytes = 7000  # two messages fit, three do not
    commands.clear()
    assert [raw for _, raw in box.fetch_many(refs)] == raws
    assert commands.count("UID FETCH") == 1 + 3


def test_fetch_many_is_lazy(box: ImapMailbox, dovecot_account: DovecotServer, commands: list[str]) -> None:
    deliver(dovecot_account, [message(n) for n in range(10)])
    refs = box.list_new()
    box.fetch_count = 4
    commands.clear()
    first = next(box.fetch_many(refs))
    assert first[0] == refs[0]
    assert commands.count("UID FETCH") == 2  # the sizes, and the first chunk only


def test_a_uid_gone_between_list_and_fetch_yields_none(
    box: ImapMailbox, dovecot_account: DovecotServer
) -> None:
    raws = [message(n) for n in range(9)]
    deliver(dovecot_account, raws)
    refs = box.list_new()
    box.fetch_count = 3
    other = imap(dovecot_account)
    other.move_many([(refs[1], PROCESSED), (refs[4], PROCESSED), (refs[8], OTHER)])  # another worker
    other.close()
    got = list(box.fetch_many(refs))
    assert [ref for ref, _ in got] == refs
    assert [raw for _, raw in got] == [None if n in (1, 4, 8) else raws[n] for n in range(9)]


def test_a_uid_gone_after_the_sizes_yields_none(box: ImapMailbox, dovecot_account: DovecotServer) -> None:
    raws = [message(n) for n in range(6)]
    deliver(dovecot_account, raws)
    refs = box.list_new()
    box.fetch_count = 2
    batches = box.fetch_many(refs)
    assert next(batches) == (refs[0], raws[0])  # sizes known, first chunk fetched
    other = imap(dovecot_account)
    other.move(refs[3], PROCESSED)  # inside the next chunk, after the sizes were asked
    other.close()
    assert [raw for _, raw in batches] == [raws[1], raws[2], None, raws[4], raws[5]]


def test_a_renumbered_folder_yields_none(box: ImapMailbox, dovecot_account: DovecotServer) -> None:
    deliver(dovecot_account, [message(1)])
    [ref] = box.list_new()
    stale = MailboxRef(ref.mailbox, ref.folder, str(int(ref.uidvalidity) - 1), ref.uid)
    assert list(box.fetch_many([stale, ref])) == [(stale, None), (ref, message(1))]


# -- move_many ---------------------------------------------------------------------------


def test_move_many_is_one_uid_move_per_target_folder(
    box: ImapMailbox, dovecot_account: DovecotServer, commands: list[str]
) -> None:
    deliver(dovecot_account, [message(n) for n in range(12)])
    refs = box.list_new()
    for folder in (PROCESSED, QUARANTINE):
        box.ensure_folder(folder)
    commands.clear()
    box.move_many([(ref, PROCESSED if n % 4 else QUARANTINE) for n, ref in enumerate(refs[:10])])
    assert commands == ["UID SEARCH", "UID MOVE", "UID MOVE"]
    assert len(folder_uids(dovecot_account, PROCESSED)) == 7
    assert len(folder_uids(dovecot_account, QUARANTINE)) == 3
    assert box.list_new() == refs[10:]


def test_move_many_repeated_moves_nothing_twice(box: ImapMailbox, dovecot_account: DovecotServer) -> None:
    deliver(dovecot_account, [message(n) for n in range(5)])
    refs = box.list_new()
    moves = [(ref, PROCESSED) for ref in refs[:4]]
    other = imap(dovecot_account)
    other.move(refs[2], PROCESSED)  # one already moved by another worker
    other.close()
    box.move_many(moves)
    box.move_many(moves)
    assert len(folder_uids(dovecot_account, PROCESSED)) == 4
    assert box.list_new() == [refs[4]]


@pytest.mark.parametrize("disabled", [{"MOVE"}, {"MOVE", "UIDPLUS"}])
def test_move_many_without_move_touches_exactly_our_uids(
    dovecot_account: DovecotServer, disabled: set[str]
) -> None:
    deliver(dovecot_account, [message(n) for n in range(6)])
    box = imap(dovecot_account, disabled_capabilities=frozenset(disabled))
    refs = box.list_new()
    with dovecot_account.client() as client:  # someone else's deleted mail, not ours to expunge
        client.select_folder("INBOX")
        client.add_flags([int(refs[5].uid)], [b"\\Deleted"])
    moves = [(ref, PROCESSED) for ref in refs[:4]]
    box.move_many(moves)
    box.move_many(moves)
    assert len(folder_uids(dovecot_account, PROCESSED)) == 4  # copied exactly once
    assert box.list_new() == [refs[4]]
    with dovecot_account.client() as client:
        client.select_folder("INBOX", readonly=True)
        left = client.search("ALL")
    expunged = set() if "UIDPLUS" in disabled else {int(ref.uid) for ref in refs[:4]}
    assert set(left) == {int(ref.uid) for ref in refs} - expunged  # the other \Deleted one stays
    box.close()


def test_move_many_across_more_than_one_command_line(
    box: ImapMailbox, dovecot_account: DovecotServer
) -> None:
    deliver(dovecot_account, [message(n) for n in range(30)])
    refs = box.list_new()
    box.move_many([(ref, OTHER) for ref in refs])
    assert len(folder_uids(dovecot_account, OTHER)) == 30 and box.list_new() == []


# -- round trips per message in a poll ------------------------------------------------


def test_round_trips_of_a_poll_of_fifty(
    box: ImapMailbox, dovecot_account: DovecotServer, commands: list[str]
) -> None:
    """A poll's work (list, fetch each, move each) costs a handful of commands, not
    three per message as the one-by-one calls did (SEARCH+MOVE per move, FETCH each)."""
    deliver(dovecot_account, [message(n) for n in range(50)])
    box.ensure_folder(PROCESSED)
    commands.clear()
    refs = box.list_new()
    fetched = [ref for ref, raw in box.fetch_many(refs) if raw is not None]
    box.move_many([(ref, PROCESSED) for ref in fetched])
    assert len(fetched) == 50
    assert commands.count("CAPABILITY") <= 1  # imapclient asks once per connection
    assert [c for c in commands if c != "CAPABILITY"] == [
        *("SELECT", "UID SEARCH"),  # list_new
        *("UID FETCH", "UID FETCH", "UID FETCH"),  # sizes, then two chunks of 25
        *("UID SEARCH", "UID MOVE"),  # move_many: what is still here, one MOVE
    ]
