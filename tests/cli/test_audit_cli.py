"""The command line's reads are audited with the person who ran them; ``audit verify``
and ``audit list`` as operators use them."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from helpers.bot import eml, make_env
from sqlalchemy import select, text

from mailbot.app import build_app
from mailbot.cli.main import main
from mailbot.mail.maildir import MaildirMailbox
from mailbot.settings import load_settings
from mailbot.store.models import AuditEntry

LOGIN = f"os:{getpass.getuser()}"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    box = MaildirMailbox(tmp_path / "var" / "inbox")
    for name in ("mail-01-referral-complete", "mail-02-referral-incomplete", "mail-17-dmarc-fail"):
        box.append(eml(name))
    assert main(["init"]) == 0  # only init and demo create state
    assert main(["poll", "--once"]) == 0
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def entries(action: str) -> list[AuditEntry]:
    app = build_app(load_settings())
    try:
        with app.db.session() as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
    finally:
        app.close()


def test_listing_commands_audit_each_record_with_the_login(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(capsys, "cases", "--json")[0] == 0
    listed = entries("case.listed")
    assert len(listed) == 2 and {e.actor for e in listed} == {LOGIN}
    assert all(e.case_id for e in listed)
    assert run(capsys, "messages", "--json")[0] == 0
    assert len(entries("message.listed")) == 3
    assert run(capsys, "quarantine", "--json")[0] == 0
    (held,) = entries("quarantine.viewed")
    assert held.actor == LOGIN and held.message_id
    assert not [e for e in entries("case.listed") if e.actor in ("cli", "root")]


def test_as_names_the_workspace_user_with_the_login(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, "--as", "tess.team", "show", "COC-2026-0001")
    assert code == 2 and "--as" in err and "tess.team" in err
    assert entries("case.viewed") == []
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("correct horse battery\n"))
    assert run(capsys, "users", "add", "tess.team", "--role", "team")[0] == 0
    assert run(capsys, "--as", "tess.team", "show", "COC-2026-0001")[0] == 0
    (viewed,) = entries("case.viewed")
    assert viewed.actor == f"tess.team ({LOGIN})"
    code, out, _ = run(capsys, "audit", "list", "--user", "tess.team", "--json")
    assert code == 0 and [e["what"] for e in json.loads(out)] == ["viewed the case"]


def test_agenda_pack_is_audited_once_per_case(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBOT_SPRG_MEETINGS", "2026-12-17")
    assert run(capsys, "schedule", "COC-2026-0001", "--meeting", "2026-12-17")[0] == 0
    code, out, err = run(capsys, "agenda", "--meeting", "2026-12-17", "--out", str(workdir / "p"))
    assert code == 0, err
    (entry,) = entries("sprg.agenda_pack")
    assert entry.case_id and entry.actor == LOGIN


def test_audit_verify_and_list(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "show", "COC-2026-0001")
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "intact" in out
    code, out, _ = run(capsys, "audit", "list", "--ref", "COC-2026-0001", "--json")
    listed = json.loads(out)
    assert [e["what"] for e in listed] == ["opened the case", "viewed the case"]
    assert {e["ref"] for e in listed} == {"COC-2026-0001"}
    code, out, _ = run(capsys, "audit", "list", "--since", "02/01/2099")
    assert code == 0 and "No entries." in out
    code, out, _ = run(capsys, "audit", "list", "--user", getpass.getuser())
    assert code == 0 and "viewed the case" in out and "opened the case" not in out
    assert run(capsys, "audit", "list", "--since", "someday")[0] == 2
    app = build_app(load_settings())
    with app.db.session() as session:  # an entry deleted behind the bot's back
        victim = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()[1]
        session.execute(text("DELETE FROM audit WHERE id = :i"), {"i": victim})
    app.close()
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 1 and "BROKEN" in out and f"entry {victim + 1}" in out
    code, out, _ = run(capsys, "status", "--json")
    assert code == 1 and json.loads(out)["audit_chain_intact"] is False
