"""Issue 12 part 5: the agenda pack on disk is owner-only from its first byte.

Reproduced before the fix: ``agenda --out DIR`` over a pack a colleague had left 0644
rewrote it in place and it stayed 0644 (the new pack, readable by everyone); an
``agenda.docx`` that was a symbolic link was followed and the file it pointed at
overwritten; the PDF was written first and made 0600 afterwards; and ``--out`` that was
itself a symbolic link was written through.
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.sprg import FIRST, deliver_and_poll, run, sprg_app

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.errors import UsageError


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 10, 9, 15, tzinfo=UTC))


@pytest.fixture
def meeting(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = sprg_app(tmp_path, clock)
    deliver_and_poll(app, *FIRST[:1])
    yield app
    app.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def agenda(app: App, out: Path) -> int:
    return run(app, "agenda", "--meeting", "2026-12-17", "--out", str(out))


def test_a_readable_pack_left_behind_is_replaced_by_an_owner_only_one(meeting: App, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    out.mkdir()
    for name in ("agenda.docx", "agenda.pdf"):
        (out / name).write_bytes(b"last month")
        (out / name).chmod(0o644)
    assert agenda(meeting, out) == 0
    assert (out / "agenda.docx").read_bytes()[:2] == b"PK" and mode(out / "agenda.docx") == 0o600
    if shutil.which("soffice"):
        assert (out / "agenda.pdf").read_bytes()[:5] == b"%PDF-"
        assert mode(out / "agenda.pdf") == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["agenda.docx", "agenda.pdf"]


def test_links_in_the_folder_are_replaced_not_followed(meeting: App, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    out.mkdir()
    victims = {}
    for name in ("agenda.docx", "agenda.pdf"):
        victims[name] = tmp_path / f"victim-{name}"
        victims[name].write_bytes(b"not the bot's")
        (out / name).symlink_to(victims[name])
    assert agenda(meeting, out) == 0
    for victim in victims.values():
        assert victim.read_bytes() == b"not the bot's"
    assert not (out / "agenda.docx").is_symlink() and mode(out / "agenda.docx") == 0o600


def test_out_that_is_a_link_is_refused(meeting: App, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "pack").symlink_to(real)
    with pytest.raises(UsageError, match="--out: .* is a symbolic link"):
        agenda(meeting, tmp_path / "pack")
    assert list(real.iterdir()) == []
