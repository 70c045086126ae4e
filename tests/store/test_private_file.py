"""Owner-only files: 0600 from the first byte, replacing a file or link, never through it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mailbot.errors import UsageError
from mailbot.store.private_file import refuse_link, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_new_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_private(tmp_path / "agenda.docx", b"pack")
    finally:
        os.umask(old)
    assert mode(tmp_path / "agenda.docx") == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["agenda.docx"]  # no temporary left


def test_an_existing_readable_file_is_replaced_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "agenda.docx"
    target.write_bytes(b"last month's pack")
    target.chmod(0o644)
    opened_before = target.open("rb")  # a reader holding the old file keeps the old bytes
    write_private(target, b"this month's pack")
    assert mode(target) == 0o600 and target.read_bytes() == b"this month's pack"
    assert opened_before.read() == b"last month's pack"
    opened_before.close()


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"someone else's file")
    (tmp_path / "out").mkdir()
    link = tmp_path / "out" / "agenda.docx"
    link.symlink_to(victim)
    write_private(link, b"pack")
    assert victim.read_bytes() == b"someone else's file"
    assert not link.is_symlink() and link.read_bytes() == b"pack" and mode(link) == 0o600


def test_a_linked_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UsageError, match="symbolic link"):
        refuse_link(tmp_path / "link", "--out")
    refuse_link(tmp_path / "real", "--out")
