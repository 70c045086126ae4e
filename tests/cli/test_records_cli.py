"""``legal-hold``, ``purge``, ``erase`` and ``close``'s retention date, as operators type them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.bot import eml, make_env, prepare_state

from mailbot.cli.main import main
from mailbot.mail.maildir import MaildirMailbox


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    return tmp_path


@pytest.fixture
def workdir(bare: Path) -> Path:
    prepare_state()  # only init and demo make a key and a database
    return bare


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_case(workdir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    MaildirMailbox(workdir / "var" / "inbox").append(eml("mail-01-referral-complete"))
    assert run(capsys, "poll", "--once")[0] == 0
    return str(json.loads(run(capsys, "cases", "--json")[1])[0]["ref"])


def test_close_shows_the_retention_date(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBOT_RETENTION_YEARS", "30")
    ref = _one_case(workdir, capsys)
    code, out, _ = run(capsys, "close", ref, "--reason", "no further action")
    assert code == 0 and "kept until" in out and "retention.years_after_closure = 30" in out
    year = int(out.split("kept until ")[1].split()[0].split("/")[2])
    assert year >= 2055


def test_legal_hold_purge_and_erase(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = _one_case(workdir, capsys)
    message_id_present = [
        p
        for p in (workdir / "var" / "inbox").rglob("*")
        if p.is_file() and b"DB9PR09MBB173314D3499BA0EAF4329C8FDAC" in p.read_bytes()
    ]
    assert len(message_id_present) == 1  # filed in Processed
    code, out, _ = run(capsys, "legal-hold", ref, "on", "--why", "coroner's inquest")
    assert code == 0 and "legal hold on" in out
    code, _, err = run(capsys, "erase", ref, "--reason", "request 7")
    assert code == 2 and "legal hold" in err
    code, out, _ = run(capsys, "purge", "--dry-run")
    assert code == 0 and "cases due: 0" in out
    assert run(capsys, "legal-hold", ref, "off", "--why", "inquest over")[0] == 0
    code, out, _ = run(capsys, "erase", ref, "--reason", "request 7", "--by", "dpo")
    assert code == 0 and f"{ref} erased" in out
    code, _, err = run(capsys, "show", ref)
    assert code == 1 and "destroyed" in err and "erasure" in err
    assert json.loads(run(capsys, "cases", "--json")[1]) == []
    message_id = b"DB9PR09MBB173314D3499BA0EAF4329C8FDAC@DB9PR09MBB173.eurprd09.prod.example.net"
    assert message_id in eml("mail-01-referral-complete")
    mailbox_files = [p for p in (workdir / "var" / "inbox").rglob("*") if p.is_file()]
    assert mailbox_files  # the folders' marker files at least: the scan looks somewhere
    assert [p for p in mailbox_files if message_id in p.read_bytes()] == []
    log = (workdir / "var" / "erasure-log.jsonl").read_text()
    assert ref in log and "Exampleby" not in log
    code, out, _ = run(capsys, "purge")
    assert code == 0 and "cases destroyed: 0" in out


def test_legal_hold_needs_a_reason(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = _one_case(workdir, capsys)
    assert run(capsys, "legal-hold", ref, "on")[0] == 2
    code, _, err = run(capsys, "legal-hold", ref, "on", "--why", "  ")
    assert code == 2 and "why" in err


def test_init_tells_once_where_the_key_is_and_to_escrow_it(
    bare: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = bare
    code, out, _ = run(capsys, "init")
    assert code == 0 and "mailbot keys escrow" in out and str(workdir / "var" / "master.key") in out
    code, out, _ = run(capsys, "init")
    assert code == 0 and "escrow" not in out


def test_escrow_backup_and_restore_commands(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    ref = _one_case(workdir, capsys)
    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pub = workdir / "council.pub.pem"
    pub.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    code, out, _ = run(capsys, "keys", "escrow", "--recipient", str(pub), "--out", "key.escrow")
    assert code == 0 and "versions 1 escrowed" in out and (workdir / "key.escrow").exists()
    code, out, _ = run(capsys, "backup", "--out", "b1.db")
    assert code == 0 and "holds no key" in out
    assert run(capsys, "erase", ref, "--reason", "request 9")[0] == 0
    code, out, _ = run(capsys, "restore", "b1.db")
    assert code == 0 and f"erasures applied again: 1 ({ref})" in out
    code, _, err = run(capsys, "show", ref)
    assert code == 1 and "destroyed" in err
    code, _, err = run(capsys, "restore", "nothing-here.db")
    assert code == 2 and "no backup file" in err


def test_sar_writes_the_pack_shows_the_due_date_and_audits_without_the_name(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = _one_case(workdir, capsys)
    code, out, _ = run(
        capsys,
        "sar",
        "--name",
        "Marcus Testwood",
        "--dob",
        "30/11/1985",
        "--received",
        "31/01/2027",
        "--out",
        "requests",
    )
    assert code == 0 and f"found 1 case(s) ({ref})" in out
    assert "due by 28/02/2027" in out
    assert len(list((workdir / "requests").glob("sar-*.docx"))) == 1
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{workdir / 'var' / 'mailbot.db'}")
    with engine.connect() as connection:
        details = [
            r[0] for r in connection.execute(text("SELECT detail FROM audit WHERE action = 'sar.produced'"))
        ]
    engine.dispose()
    assert len(details) == 1 and ref in details[0] and "Testwood" not in details[0]
    code, _, err = run(capsys, "sar", "--name", "X Y", "--dob", "31/02/2000")
    assert code == 2 and "not a date" in err


def test_dpia_prints_the_settings_in_force(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBOT_RETENTION_OTHER_DAYS", "45")
    code, out, _ = run(capsys, "--debug", "dpia")
    assert code == 0 and "45 days (retention.other_days)" in out and "25 years" in out
    monkeypatch.setenv("MAILBOT_RETENTION_OTHER_DAYS", "10")
    code, _, err = run(capsys, "dpia")
    assert code == 2 and "MAILBOT_RETENTION_OTHER_DAYS" in err and "mailbox_days" in err
