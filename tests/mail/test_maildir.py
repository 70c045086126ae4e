"""Maildir specifics beyond the mailbox contract: a backlog of thousands is listed once
(fetch and move use the listing's key -> file map and look again only on a miss), a
batch of moves is made durable with one fsync per target directory, and files that a
mail program renamed, or a folder a person removed, are still handled."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mailbot.mail import maildir as maildir_module
from mailbot.mail.mailbox import OTHER, PROCESSED, MailboxRef
from mailbot.mail.maildir import MaildirMailbox


def numbered(n: int) -> bytes:
    return (
        f"From: a@example.net\r\nSubject: {n}\r\nMessage-ID: <m{n}@example.net>\r\n\r\nbody {n}\r\n".encode()
    )


@pytest.fixture
def listdirs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = os.listdir

    def counting(path: str | os.PathLike[str]) -> list[str]:
        seen.append(str(path))
        return original(path)

    monkeypatch.setattr(maildir_module.os, "listdir", counting)
    return seen


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    seen: list[Path] = []
    original = maildir_module._fsync_dir

    def counting(directory: Path) -> None:
        seen.append(directory)
        original(directory)

    monkeypatch.setattr(maildir_module, "_fsync_dir", counting)
    return seen


def test_a_backlog_of_thousands_is_listed_once(
    tmp_path: Path, listdirs: list[str], fsyncs: list[Path]
) -> None:
    box = MaildirMailbox(tmp_path / "in")
    total = 3000
    for n in range(total):
        box.append(numbered(n))
    listdirs.clear()
    refs = box.list_new()
    assert len(refs) == total and len(listdirs) == 2  # new/ and cur/, once
    fetched = list(box.fetch_many(refs))
    assert [raw for _, raw in fetched] == [numbered(n) for n in range(total)]
    box.move_many([(ref, PROCESSED if n % 2 else OTHER) for n, ref in enumerate(refs)])
    assert len(listdirs) == 2  # neither fetch nor move listed the inbox again
    assert sorted(fsyncs) == sorted(
        {tmp_path / "in" / ".Processed" / "new", tmp_path / "in" / ".Other" / "new"}
    )
    assert box.list_new() == []
    assert len(os.listdir(tmp_path / "in" / ".Processed" / "new")) == total // 2


def test_a_file_renamed_after_the_listing_is_found_again(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "in")
    box.append(numbered(1))
    [ref] = box.list_new()
    [name] = os.listdir(tmp_path / "in" / "new")
    os.rename(
        tmp_path / "in" / "new" / name, tmp_path / "in" / "cur" / f"{name}:2,S"
    )  # a mail program read it
    assert box.fetch(ref) == numbered(1)
    box.move(ref, PROCESSED)
    assert os.listdir(tmp_path / "in" / ".Processed" / "cur") == [f"{name}:2,S"]


def test_a_message_gone_after_the_listing_is_skipped(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "in")
    for n in range(3):
        box.append(numbered(n))
    refs = box.list_new()
    MaildirMailbox(tmp_path / "in").move(refs[1], OTHER)  # another worker
    assert list(box.fetch_many(refs)) == [(refs[0], numbered(0)), (refs[1], None), (refs[2], numbered(2))]
    box.move_many([(ref, PROCESSED) for ref in refs])  # the one gone is no error, and not doubled
    assert len(os.listdir(tmp_path / "in" / ".Processed" / "new")) == 2
    assert len(os.listdir(tmp_path / "in" / ".Other" / "new")) == 1


def test_a_folder_removed_while_running_is_made_again(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "in")
    box.append(numbered(1))
    box.append(numbered(2))
    first, second = box.list_new()
    box.move(first, PROCESSED)
    shutil.rmtree(tmp_path / "in" / ".Processed")  # a person tidying up
    box.move(second, PROCESSED)
    assert box.list_new() == []
    assert len(os.listdir(tmp_path / "in" / ".Processed" / "new")) == 1


def test_refs_of_another_mailbox_are_refused(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "in")
    stranger = MailboxRef("maildir:/elsewhere", "INBOX", "", "1.M1.host")
    with pytest.raises(Exception, match="another mailbox"):
        box.move_many([(stranger, PROCESSED)])


def test_a_folder_another_worker_is_making_at_the_same_moment_is_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen with four `poll --once` workers: the standard library makes a folder in
    steps, so the second worker's mkdir meets the first one's half-made folder."""
    box = MaildirMailbox(tmp_path / "in")
    box.append(numbered(1))
    (ref,) = box.list_new()

    def raced(folder: str) -> None:
        (tmp_path / "in" / f".{folder}").mkdir()  # the other worker got there first
        raise FileExistsError(17, "File exists")

    monkeypatch.setattr(box._md, "add_folder", raced)
    box.move(ref, PROCESSED)
    assert box.list_new() == []
    folder = tmp_path / "in" / ".Processed"
    assert (folder / "maildirfolder").exists()
    assert len(os.listdir(folder / "new")) + len(os.listdir(folder / "cur")) == 1
