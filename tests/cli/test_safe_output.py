"""Every value the command line prints is safe on a terminal (issue 13): ESC, CR, LF
and the other control characters a sender wrote are shown escaped, in text and JSON,
even from rows stored before the reader cleaned them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.bot import eml, make_env
from sqlalchemy import select

from mailbot.app import build_app
from mailbot.cli.main import main
from mailbot.mail.maildir import MaildirMailbox
from mailbot.settings import load_settings
from mailbot.store.models import Attachment, InboundMessage

HOSTILE = "Referral \x1b[2J\x1b[31mred\r\nInjected: yes\x07\x9b1m\u202e"
#: Anything a terminal would act on: C0 (but the line feeds of our own layout), DEL, C1.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    return tmp_path


def stored_with_controls(workdir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A held message and a case whose stored subject, sender and file name carry raw
    control characters (as a row written before the reader cleaned them would)."""
    assert main(["init"]) == 0
    box = MaildirMailbox(workdir / "var" / "inbox")
    box.append(eml("mail-01-referral-complete"))
    box.append(
        eml("mail-01-referral-complete")
        .replace(b"From: ", b"From: a@x.example, ", 1)
        .replace(b"Message-ID: <", b"Message-ID: <two.", 1)
    )
    assert main(["poll", "--once"]) == 0
    capsys.readouterr()
    app = build_app(load_settings())
    with app.db.session() as session:
        for row in session.scalars(select(InboundMessage)):
            row.subject_enc = app.vault.seal_text(session, row, "subject_enc", HOSTILE)
            row.sender_enc = app.vault.seal_text(session, row, "sender_enc", HOSTILE)
        for att in session.scalars(select(Attachment)):
            att.filename_enc = app.vault.seal_text(session, att, "filename_enc", HOSTILE)
    app.close()
    out = json.loads(_run(capsys, "cases", "--json"))
    return str(out[0]["ref"])


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [("quarantine",), ("messages",), ("show", "REF")], ids=["quarantine", "messages", "show"]
)
def test_text_output_shows_controls_escaped(
    workdir: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    ref = stored_with_controls(workdir, capsys)
    out = _run(capsys, *[ref if a == "REF" else a for a in argv])
    assert not RAW.search(out), repr(out)
    if argv != ("messages",):  # the messages table shows no sender or subject
        assert "Referral \\x1b[2J" in out


@pytest.mark.parametrize(
    "argv",
    [("quarantine", "--json"), ("messages", "--json"), ("show", "REF", "--json")],
    ids=["quarantine", "messages", "show"],
)
def test_json_output_is_escaped_and_still_says_the_same(
    workdir: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    ref = stored_with_controls(workdir, capsys)
    out = _run(capsys, *[ref if a == "REF" else a for a in argv])
    assert not RAW.search(out), repr(out)
    assert HOSTILE in set(strings(json.loads(out)))  # the value, exactly, once decoded


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
