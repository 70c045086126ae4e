"""The master key from a secret (``MAILBOT_MASTER_KEY_FILE``, a systemd credential) or
from a command (``store.key_command``, a KMS): used like the key file, refused like a
wrong key file (exit 2 naming the setting, nothing written), and never rotated there."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
from helpers.bot import eml, make_env

from mailbot.cli.main import main
from mailbot.mail.maildir import MaildirMailbox
from mailbot.store.keys import KeyStore


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bot with one case, made with an ordinary key file, which then moves away."""
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    assert main(["init"]) == 0
    MaildirMailbox(tmp_path / "var" / "inbox").append(eml("mail-01-referral-complete"))
    assert main(["poll", "--once"]) == 0
    (tmp_path / "var" / "master.key").rename(tmp_path / "credential.key")
    monkeypatch.setenv("MAILBOT_KEY_FILE", str(tmp_path / "no-such" / "master.key"))
    return tmp_path


def _printer(path: Path) -> str:
    return shlex.join([sys.executable, "-c", f"import sys; sys.stdout.write(open({str(path)!r}).read())"])


def _deliver_another(bot: Path) -> None:
    MaildirMailbox(bot / "var" / "inbox").append(eml("mail-04-handtyped-dates"))


def test_the_key_as_a_systemd_credential(
    bot: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chmod(bot / "credential.key", 0o400)
    monkeypatch.setenv("MAILBOT_MASTER_KEY_FILE", str(bot / "credential.key"))
    _deliver_another(bot)
    assert main(["poll", "--once"]) == 0
    assert main(["show", "COC-2026-0002"]) == 0
    capsys.readouterr()
    assert main(["keys", "rotate"]) == 2
    assert "store.master_key" in capsys.readouterr().err
    assert not (bot / "no-such").exists()  # no key file was made beside it


def test_the_key_from_a_command(
    bot: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILBOT_KEY_COMMAND", _printer(bot / "credential.key"))
    _deliver_another(bot)
    assert main(["poll", "--once"]) == 0
    assert main(["show", "COC-2026-0002"]) == 0
    capsys.readouterr()
    assert main(["keys", "retire", "1"]) == 2
    assert "store.key_command" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["foreign", "fails", "missing", "silent"])
def test_a_wrong_or_missing_key_from_a_command_stops_and_writes_nothing(
    bot: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    other = KeyStore(bot / "other" / "master.key")
    other.create()
    commands = {
        "foreign": _printer(other.path),
        "fails": shlex.join([sys.executable, "-c", "import sys; sys.stderr.write('token x'); sys.exit(3)"]),
        "missing": "/nonexistent/kms-fetch --key mailbot",
        "silent": shlex.join([sys.executable, "-c", "pass"]),
    }
    monkeypatch.setenv("MAILBOT_KEY_COMMAND", commands[command])
    _deliver_another(bot)
    outbox = sorted((bot / "var" / "outbox").iterdir())
    db_before = (bot / "var" / "mailbot.db").stat().st_size
    capsys.readouterr()
    assert main(["poll", "--once"]) == 2
    err = capsys.readouterr().err
    assert "store.key_command" in err and "token x" not in err and len(err.splitlines()) == 1
    assert sorted((bot / "var" / "outbox").iterdir()) == outbox
    assert len(list(MaildirMailbox(bot / "var" / "inbox").list_new())) == 1
    assert (bot / "var" / "mailbot.db").stat().st_size == db_before


def test_both_sources_at_once_is_a_configuration_error(
    bot: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILBOT_KEY_COMMAND", _printer(bot / "credential.key"))
    monkeypatch.setenv("MAILBOT_MASTER_KEY_FILE", str(bot / "credential.key"))
    capsys.readouterr()
    assert main(["cases"]) == 2
    assert "store.key_command" in capsys.readouterr().err
