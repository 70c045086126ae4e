"""One contract, every mailbox backend: Maildir, IMAP on a real (private) Dovecot, and
Microsoft Graph against the local stand-in (``helpers/fake_graph.py``, signing in with
real MSAL at the fake Microsoft login).

The IMAP backend runs twice: as the server offers it (MOVE, IDLE), and with MOVE and
IDLE switched off, so the COPY + EXPUNGE and NOOP-polling paths meet the same contract.

Line endings: ``fetch`` returns the bytes as stored. Mail on the wire is CRLF, and for
CRLF input every backend is byte-exact (the sample files are CRLF). A bare-LF message
stays bare-LF in a Maildir but may come back CRLF from IMAP, so that one test compares
after normalising line endings and nothing else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.fake_graph import graph_mailbox_parts
from helpers.servers import DovecotServer

from mailbot.mail.imap import ImapMailbox, ImapSettings
from mailbot.mail.mailbox import FOLDERS, OTHER, PROCESSED, QUARANTINE, Mailbox, MailboxRef
from mailbot.mail.maildir import MaildirMailbox

DATA = Path(__file__).resolve().parents[1] / "data" / "mail"
SAMPLES = sorted(DATA.glob("*.eml"))


def numbered(n: int) -> bytes:
    """A small distinct CRLF message; the number lets a test check order."""
    return (
        f"From: sender@example.net\r\nTo: cscp@example.org\r\nSubject: test {n}\r\n"
        f"Message-ID: <contract-{n}@example.net>\r\n\r\nbody {n}\r\n"
    ).encode()


@dataclass
class Backend:
    """A fresh empty mailbox, a way to open a second handle on it, and a peek inside."""

    mailbox: Mailbox
    open_another: Callable[[], Mailbox]
    folder_contents: Callable[[str], list[bytes]]


def _maildir_backend(root: Path) -> Backend:
    def folder_contents(folder: str) -> list[bytes]:
        base = root / f".{folder}"
        return [p.read_bytes() for sub in ("new", "cur") for p in sorted((base / sub).glob("*"))]

    return Backend(MaildirMailbox(root), lambda: MaildirMailbox(root), folder_contents)


def _imap_backend(server: DovecotServer, disabled: frozenset[str]) -> Backend:
    def open_one() -> ImapMailbox:
        settings = ImapSettings(server.host, server.port, server.user, "plain", password=server.password)
        return ImapMailbox(settings, poll_interval=0.1, disabled_capabilities=disabled)

    def folder_contents(folder: str) -> list[bytes]:
        with server.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search(["NOT", "DELETED"])
            fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]

    return Backend(open_one(), open_one, folder_contents)


@pytest.fixture(
    params=[
        "maildir",
        pytest.param("imap", marks=pytest.mark.dovecot),
        pytest.param("imap-nomove-noidle", marks=pytest.mark.dovecot),
        "graph",
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    opened: list[Mailbox] = []
    if request.param == "maildir":
        made = _maildir_backend(tmp_path / "Maildir")
    elif request.param == "graph":
        made = Backend(
            *graph_mailbox_parts(
                request.getfixturevalue("fake_graph"), request.getfixturevalue("token_endpoint")
            )
        )
    else:
        server = request.getfixturevalue("dovecot_account")
        disabled = frozenset({"MOVE", "IDLE"}) if request.param.endswith("noidle") else frozenset()
        made = _imap_backend(server, disabled)
    original_open = made.open_another

    def tracked_open() -> Mailbox:
        box = original_open()
        opened.append(box)
        return box

    made.open_another = tracked_open
    yield made
    for box in [made.mailbox, *opened]:
        box.close()


def bodies(box: Mailbox, refs: list[MailboxRef]) -> list[bytes]:
    return [box.fetch(ref) for ref in refs]


# -- listing and fetching ------------------------------------------------------------


def test_a_fresh_mailbox_lists_nothing(backend: Backend) -> None:
    assert backend.mailbox.list_new() == []


def test_list_new_is_oldest_first(backend: Backend) -> None:
    for n in range(5):
        backend.mailbox.append(numbered(n))
    refs = backend.mailbox.list_new()
    assert bodies(backend.mailbox, refs) == [numbered(n) for n in range(5)]


def test_refs_name_this_mailbox_and_are_stable(backend: Backend) -> None:
    backend.mailbox.append(numbered(1))
    backend.mailbox.append(numbered(2))
    first = backend.mailbox.list_new()
    again = backend.open_another().list_new()
    assert first == again  # another handle on the same store sees the same refs
    assert {ref.mailbox for ref in first} == {backend.mailbox.identity}
    assert len({ref.key for ref in first}) == 2


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_fetch_returns_crlf_mail_byte_for_byte(backend: Backend, sample: Path) -> None:
    raw = sample.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # the sample is CRLF
    backend.mailbox.append(raw)
    [ref] = backend.mailbox.list_new()
    assert backend.mailbox.fetch(ref) == raw


def test_fetch_of_bare_lf_mail_differs_at_most_in_line_endings(backend: Backend) -> None:
    raw = numbered(7).replace(b"\r\n", b"\n")
    backend.mailbox.append(raw)
    [ref] = backend.mailbox.list_new()
    assert backend.mailbox.fetch(ref).replace(b"\r\n", b"\n") == raw


def test_fetch_does_not_consume_the_message(backend: Backend) -> None:
    backend.mailbox.append(numbered(1))
    [ref] = backend.mailbox.list_new()
    backend.mailbox.fetch(ref)
    assert backend.mailbox.list_new() == [ref]


# -- folders and moves -----------------------------------------------------------------


def test_ensure_folder_is_idempotent(backend: Backend) -> None:
    for folder in FOLDERS:
        backend.mailbox.ensure_folder(folder)
        backend.mailbox.ensure_folder(folder)
    backend.open_another().ensure_folder(PROCESSED)  # a second handle finds it made
    for folder in FOLDERS:
        assert backend.folder_contents(folder) == []


def test_move_takes_the_message_out_of_the_inbox_into_the_folder(backend: Backend) -> None:
    for n in range(3):
        backend.mailbox.append(numbered(n))
    refs = backend.mailbox.list_new()
    for ref, folder in zip(refs, (PROCESSED, QUARANTINE, OTHER), strict=True):
        backend.mailbox.move(ref, folder)
    assert backend.mailbox.list_new() == []
    assert backend.folder_contents(PROCESSED) == [numbered(0)]
    assert backend.folder_contents(QUARANTINE) == [numbered(1)]
    assert backend.folder_contents(OTHER) == [numbered(2)]


def test_moving_again_is_a_no_op(backend: Backend) -> None:
    backend.mailbox.append(numbered(1))
    backend.mailbox.append(numbered(2))
    first, second = backend.mailbox.list_new()
    backend.mailbox.move(first, PROCESSED)
    backend.mailbox.move(first, PROCESSED)  # the repeat after a crash
    backend.open_another().move(first, PROCESSED)  # ... even from a new process
    assert backend.folder_contents(PROCESSED) == [numbered(1)]
    assert backend.mailbox.list_new() == [second]  # the other message was not touched


# -- the mailbox copy's end (retention.mailbox_days) -----------------------------------


def test_list_folder_finds_filed_messages_with_their_arrival(backend: Backend) -> None:
    assert backend.mailbox.list_folder(PROCESSED) == []  # no folder yet: nothing filed
    for n in range(3):
        backend.mailbox.append(numbered(n))
    refs = backend.mailbox.list_new()
    for ref in refs[:2]:
        backend.mailbox.move(ref, PROCESSED)
    backend.mailbox.move(refs[2], OTHER)
    stored = backend.open_another().list_folder(PROCESSED)
    assert sorted(backend.mailbox.fetch(s.ref) for s in stored) == [numbered(0), numbered(1)]
    now = datetime.now(UTC)
    for item in stored:
        assert item.ref.folder == PROCESSED
        assert item.arrived is None or abs(item.arrived - now) < timedelta(hours=1)
    assert [backend.mailbox.fetch(s.ref) for s in backend.mailbox.list_folder(OTHER)] == [numbered(2)]


def test_delete_removes_one_message_for_good(backend: Backend) -> None:
    for n in range(2):
        backend.mailbox.append(numbered(n), PROCESSED)
    first, second = sorted(backend.mailbox.list_folder(PROCESSED), key=lambda s: backend.mailbox.fetch(s.ref))
    backend.mailbox.delete(first.ref)
    backend.mailbox.delete(first.ref)  # gone already: no error
    backend.open_another().delete(first.ref)
    assert backend.folder_contents(PROCESSED) == [numbered(1)]
    assert [s.ref for s in backend.mailbox.list_folder(PROCESSED)] == [second.ref]


def test_append_to_a_folder_leaves_the_inbox_alone(backend: Backend) -> None:
    backend.mailbox.append(numbered(1), PROCESSED)
    assert backend.mailbox.list_new() == []
    assert backend.folder_contents(PROCESSED) == [numbered(1)]


def test_append_then_list(backend: Backend) -> None:
    backend.mailbox.append(numbered(1))
    [ref] = backend.mailbox.list_new()
    assert backend.mailbox.fetch(ref) == numbered(1)


# -- waiting for mail ----------------------------------------------------------------


def test_wait_for_new_wakes_soon_after_mail_arrives(backend: Backend) -> None:
    backend.mailbox.list_new()
    other = backend.open_another()
    other.list_new()  # connect now, so the timing below measures delivery only
    appended_at: list[float] = []

    def deliver() -> None:
        time.sleep(0.3)
        other.append(numbered(1))
        appended_at.append(time.monotonic())

    thread = threading.Thread(target=deliver)
    started = time.monotonic()
    thread.start()
    woke = backend.mailbox.wait_for_new(10)
    returned = time.monotonic()
    thread.join()
    assert woke is True
    assert returned - started < 3
    assert returned - appended_at[0] < 2  # Dovecot's push floor is ~0.5 s (NOTES.md)
    assert len(backend.mailbox.list_new()) == 1


def test_wait_for_new_times_out_without_mail(backend: Backend) -> None:
    backend.mailbox.list_new()
    started = time.monotonic()
    assert backend.mailbox.wait_for_new(0.6) is False
    assert 0.55 <= time.monotonic() - started < 3


def test_wait_for_new_sees_mail_that_came_after_the_last_listing(backend: Backend) -> None:
    backend.mailbox.list_new()
    backend.open_another().append(numbered(1))  # arrives between list_new and the wait
    started = time.monotonic()
    assert backend.mailbox.wait_for_new(10) is True
    assert time.monotonic() - started < 1


def test_a_message_left_in_the_inbox_does_not_wake_the_waiter(backend: Backend) -> None:
    backend.mailbox.append(numbered(1))
    assert len(backend.mailbox.list_new()) == 1  # listed, then (say) it failed: left there
    assert backend.mailbox.wait_for_new(0.4) is False  # so no busy loop over it


def test_a_fresh_handle_reports_waiting_mail_at_once(backend: Backend) -> None:
    backend.mailbox.append(numbered(1))
    fresh = backend.open_another()
    assert fresh.wait_for_new(5) is True


# -- batches (fetch_many, move_many) ------------------------------------------------------


def test_fetch_many_yields_each_ref_in_order_with_its_bytes(backend: Backend) -> None:
    for n in range(6):
        backend.mailbox.append(numbered(n))
    refs = backend.mailbox.list_new()
    assert list(backend.mailbox.fetch_many(refs)) == [(ref, numbered(n)) for n, ref in enumerate(refs)]
    assert list(backend.mailbox.fetch_many([])) == []
    assert backend.mailbox.list_new() == refs  # fetching consumed nothing


@pytest.mark.parametrize("how", ["moved", "deleted"])
def test_fetch_many_yields_none_for_a_message_gone_since_the_listing(backend: Backend, how: str) -> None:
    # Graph ids are immutable: a message moved within the mailbox is still fetched by its id.
    still_there = how == "moved" and backend.mailbox.identity.startswith("graph:")
    for n in range(3):
        backend.mailbox.append(numbered(n))
    refs = backend.mailbox.list_new()
    other = backend.open_another()  # another worker, between our list and our fetch
    other.move(refs[1], PROCESSED) if how == "moved" else other.delete(refs[1])
    assert list(backend.mailbox.fetch_many(refs)) == [
        (refs[0], numbered(0)),
        (refs[1], numbered(1) if still_there else None),
        (refs[2], numbered(2)),
    ]


def test_move_many_files_each_message_and_is_safe_to_repeat(backend: Backend) -> None:
    for n in range(5):
        backend.mailbox.append(numbered(n))
    refs = backend.mailbox.list_new()
    moves = [(refs[0], PROCESSED), (refs[1], QUARANTINE), (refs[2], PROCESSED), (refs[3], OTHER)]
    backend.mailbox.move_many(moves)
    backend.mailbox.move_many(moves)  # the repeat after a crash
    backend.open_another().move_many(moves)  # ... even from a new process
    backend.mailbox.move_many([])
    assert backend.mailbox.list_new() == [refs[4]]  # the message not named stays
    assert backend.folder_contents(PROCESSED) == [numbered(0), numbered(2)]
    assert backend.folder_contents(QUARANTINE) == [numbered(1)]
    assert backend.folder_contents(OTHER) == [numbered(3)]
