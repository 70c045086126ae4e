"""Key rotation under a running process, retirement, resuming a stopped rotation, and
the fingerprints that refuse another installation's key file (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers.bot import eml, make_env, simple_referral
from sqlalchemy import delete, select

from mailbot.app import App, build_app
from mailbot.cases import store as case_store
from mailbot.cli.main import main
from mailbot.errors import KeyFileError
from mailbot.intake.poller import Poller
from mailbot.settings import load_settings
from mailbot.store import crypto
from mailbot.store.keys import KeyStore
from mailbot.store.models import Case, DataKey


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings in the environment, so ``main([...])`` acts on the same bot."""
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, database_url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    return tmp_path


def fresh_app(tmp_path: Path) -> App:
    app = build_app(load_settings(base_dir=tmp_path))
    app.prepare()
    return app


def every_case_reads(tmp_path: Path) -> list[str]:
    """Each case's child's name, read by a process that starts now (no cached keys)."""
    app = fresh_app(tmp_path)
    try:
        with app.db.session() as session:
            names = []
            for case in session.scalars(select(Case).order_by(Case.ref)):
                referral, _ = case_store.load_referral(session, app.vault, case)
                names.append(case.ref + ":" + str(referral["child"]["full_name"] or ""))
        return names
    finally:
        app.close()


def test_a_running_poller_wraps_new_keys_under_the_newest_version(env: Path) -> None:
    poller = fresh_app(env)  # loads the key file once, as a long-running poll does
    try:
        poller.mailbox.append(eml("mail-01-referral-complete"))
        Poller(poller).cycle()
        assert main(["keys", "rotate"]) == 0  # another process: version 2, version 1 retired
        poller.mailbox.append(eml("mail-04-handtyped-dates"))
        Poller(poller).cycle()
        with poller.db.session() as session:
            versions = sorted(session.scalars(select(DataKey.master_version)))
        assert set(versions) == {2}, versions
    finally:
        poller.close()
    assert len(every_case_reads(env)) == 2


def test_retire_refuses_a_version_in_use_and_says_how_many(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = fresh_app(env)
    for n in range(3):
        app.mailbox.append(simple_referral(n))
    Poller(app).cycle()
    app.keys.add_version()  # a rotation stopped before it re-wrapped anything
    app.close()
    capsys.readouterr()
    assert main(["keys", "retire", "1"]) == 1
    out = capsys.readouterr().out
    assert "NOT retired" in out and "6 data keys still use it" in out  # 3 cases, 3 replies
    assert set(KeyStore(env / "var" / "master.key").load().versions) == {1, 2}
    assert main(["keys", "retire", "2"]) == 2  # the current version
    assert main(["keys", "retire", "7"]) == 2
    assert len(every_case_reads(env)) == 3


def test_a_rotation_stopped_part_way_finishes_when_run_again(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = fresh_app(env)
    for n in range(5):
        app.mailbox.append(simple_referral(n))
    Poller(app).cycle()
    app.close()
    monkeypatch.setattr("mailbot.store.rotation.BATCH", 2, raising=False)
    real_wrap, calls = crypto.wrap_key, []

    def dies_on_the_third(*args: object) -> bytes:  # the process is killed mid-rotation
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_wrap(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(crypto, "wrap_key", dies_on_the_third)
    assert main(["keys", "rotate"]) == 130
    monkeypatch.setattr(crypto, "wrap_key", real_wrap)
    capsys.readouterr()
    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert "version 1 retired" in out, out
    keys = KeyStore(env / "var" / "master.key").load()
    assert set(keys.versions) == {keys.current_version}
    assert len(every_case_reads(env)) == 5


def test_a_foreign_key_file_is_refused_and_nothing_is_written(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = fresh_app(env)
    app.mailbox.append(eml("mail-01-referral-complete"))
    Poller(app).cycle()
    app.close()
    ours = env / "var" / "master.key"
    shutil.copy(ours, env / "ours.key")
    KeyStore(env / "other" / "master.key").create()  # another installation's key
    ours.unlink()
    shutil.copy(env / "other" / "master.key", ours)
    box = fresh_mailbox(env)
    box.append(eml("mail-01-referral-complete"))  # the same message delivered again
    box.append(eml("mail-04-handtyped-dates"))
    outbox_before = sorted((env / "var" / "outbox").iterdir())
    capsys.readouterr()
    for argv in (["poll", "--once"], ["status"], ["cases"], ["show", "COC-2026-0001"]):
        assert main(argv) == 2, argv
        assert "store.key_file" in capsys.readouterr().err
    assert sorted((env / "var" / "outbox").iterdir()) == outbox_before
    assert len(list(box.list_new())) == 2
    shutil.copy(env / "ours.key", ours)
    assert main(["poll", "--once"]) == 0
    assert len(every_case_reads(env)) == 2


def fresh_mailbox(tmp_path: Path):  # type: ignore[no-untyped-def]
    from mailbot.mail.maildir import MaildirMailbox

    return MaildirMailbox(tmp_path / "var" / "inbox")


def test_a_database_without_fingerprints_records_them_but_still_refuses_a_wrong_key(env: Path) -> None:
    from mailbot.store.models import MasterKeyRecord

    app = fresh_app(env)
    app.mailbox.append(eml("mail-01-referral-complete"))
    Poller(app).cycle()
    with app.db.session() as session:  # as a database from before fingerprints
        session.execute(delete(MasterKeyRecord))
    app.close()
    ours = env / "var" / "master.key"
    ours.rename(env / "ours.key")
    KeyStore(ours).create()
    with pytest.raises(KeyFileError) as info:
        fresh_app(env)
    assert info.value.setting == "store.key_file"
    ours.unlink()
    (env / "ours.key").rename(ours)
    app = fresh_app(env)
    with app.db.session() as session:
        assert sorted(session.scalars(select(MasterKeyRecord.version))) == [0, 1]
    app.close()
