"""The command line as operators use it: ``main(argv)`` in a folder, settings from env."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers.bot import eml, make_env

from mailbot.cli.main import main
from mailbot.mail.maildir import MaildirMailbox


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the settings in the environment, and nothing made yet."""
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    return tmp_path


@pytest.fixture
def workdir(bare: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The same folder after ``mailbot init`` (only init and demo create state)."""
    assert main(["init"]) == 0
    capsys.readouterr()
    return bare


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def deliver(workdir: Path, *names: str) -> None:
    box = MaildirMailbox(workdir / "var" / "inbox")
    for name in names:
        box.append(eml(name))


def test_init_creates_schema_and_key_once(bare: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "init")
    assert code == 0 and "created" in out
    key = (bare / "var" / "master.key").read_bytes()
    code, out, _ = run(capsys, "init")
    assert code == 0 and "kept" in out
    assert (bare / "var" / "master.key").read_bytes() == key


def test_poll_once_then_queue_show_and_messages_as_json(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deliver(workdir, "mail-01-referral-complete", "mail-02-referral-incomplete", "mail-12-out-of-office")
    code, out, _ = run(capsys, "poll", "--once")
    assert code == 0 and "handled 3 message(s)" in out

    code, out, _ = run(capsys, "cases", "--json")
    assert code == 0, _
    cases = json.loads(out)
    assert [c["status"] for c in cases] == ["ready", "awaiting_information"]
    for case in cases:
        assert set(case) >= {
            "ref",
            "status",
            "referrer_email",
            "received_at",
            "missing_required",
            "queries",
            "themes",
            "meeting_date",
        }
    assert cases[1]["missing_required"] == ["referrer.role", "child.dob", "anticipated_learning"]
    assert cases[0]["received_at"].endswith("+00:00")

    code, out, _ = run(capsys, "show", cases[0]["ref"], "--json")
    shown = json.loads(out)
    assert shown["referral"]["child"]["full_name"] == "Amelia Rose Exampleby"
    assert "missing_required" not in shown["referral"]
    kinds = [m["kind"] for m in shown["messages"]]
    assert kinds == ["accept", "reply"]
    assert shown["messages"][0]["sender"] == "p.testington@exampleton-primary.example.org"

    code, out, _ = run(capsys, "messages", "--json")
    items = json.loads(out)
    assert {m["action"] for m in items} == {"accept", "request_missing", "ignore_auto"}
    for item in items:
        assert set(item) >= {"id", "message_id", "received_at", "sender", "action", "case_refs", "reason"}

    code, out, _ = run(capsys, "cases", "--status", "ready")
    assert code == 0 and cases[0]["ref"] in out and cases[1]["ref"] not in out


def test_show_is_audited(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deliver(workdir, "mail-01-referral-complete")
    run(capsys, "poll", "--once")
    run(capsys, "show", "COC-2026-0001")
    from sqlalchemy import select

    from mailbot.app import build_app
    from mailbot.settings import load_settings
    from mailbot.store.models import AuditEntry

    app = build_app(load_settings())
    with app.db.session() as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "case.viewed" in actions


def test_quarantine_list_release_and_reject(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deliver(workdir, "mail-17-dmarc-fail", "mail-01-referral-complete")
    run(capsys, "poll", "--once")
    code, out, _ = run(capsys, "quarantine", "--json")
    (held,) = json.loads(out)
    assert set(held) == {"id", "received_at", "sender", "subject", "reason"}
    assert "dmarc" in held["reason"]

    code, out, _ = run(capsys, "quarantine", "release", held["id"])
    assert code == 0 and "released" in out
    code, out, _ = run(capsys, "quarantine", "--json")
    assert json.loads(out) == []
    code, out, _ = run(capsys, "cases", "--json")
    assert len(json.loads(out)) == 2
    code, _, err = run(capsys, "quarantine", "reject", held["id"])
    assert code == 2 and "already released" in err


def test_close_case(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deliver(workdir, "mail-01-referral-complete")
    run(capsys, "poll", "--once")
    code, out, _ = run(capsys, "close", "COC-2026-0001", "--reason", "duplicate of another case")
    assert code == 0
    code, out, _ = run(capsys, "cases", "--json")
    assert json.loads(out)[0]["status"] == "closed"


def test_parse_prints_fields_and_json(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    form = Path(__file__).resolve().parents[1] / "data" / "forms" / "coc-02-incomplete.docx"
    code, out, _ = run(capsys, "parse", str(form), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["missing_required"] == ["referrer.role", "child.dob", "anticipated_learning"]
    assert data["provenance"]["referral_date"].startswith("content_control")
    code, out, _ = run(capsys, "parse", str(form))
    assert code == 0 and "Your Role" in out


def test_parse_rejects_a_non_form(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = workdir / "letter.txt"
    other.write_text("Dear colleague, this is a letter.")
    code, out, _ = run(capsys, "parse", str(other), "--json")
    assert code == 1 and "reject" in json.loads(out)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"MAILBOT_SPRG_CUTOFF_DAYS": "soon"}, "MAILBOT_SPRG_CUTOFF_DAYS"),
        ({"MAILBOT_MAILBOX_URL": "pop3://x"}, "mailbox.url"),
    ],
)
def test_configuration_errors_exit_2_naming_the_setting(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    setting: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, out, err = run(capsys, "poll", "--once")
    assert code == 2
    assert setting in err and len(err.strip().splitlines()) == 1


def test_unknown_case_exits_1(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", "COC-2026-9999")
    assert code == 1 and "COC-2026-9999" in err


def test_usage_error_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "cases", "--bogus")
    assert code == 2


def test_status_reports_quarantine(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deliver(workdir, "mail-17-dmarc-fail")
    run(capsys, "poll", "--once")
    code, out, _ = run(capsys, "status", "--json")
    report = json.loads(out)
    assert code == 1 and report["quarantine"] == 1 and report["audit_chain_intact"]


def test_demo_twice_duplicates_nothing(
    bare: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = bare
    code, out, _ = run(capsys, "demo")  # the demo makes its own state, as init does
    assert code == 0 and "The CSCP queue" in out and "Referral updated" in out
    code, first, _ = run(capsys, "cases", "--json")
    replies = sorted((workdir / "var" / "outbox").glob("*.eml"))
    code, out, _ = run(capsys, "demo")
    code, second, _ = run(capsys, "cases", "--json")
    assert json.loads(first) == json.loads(second)
    assert sorted((workdir / "var" / "outbox").glob("*.eml")) == replies


def test_check_reports_each_part(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "check")
    assert code == 0
    for part in ("settings: ok", "database: ok", "keys: ok", "mailbox: ok", "outbound: ok"):
        assert part in out
    monkeypatch.setenv("MAILBOT_MAILBOX_URL", "imap://cscp@127.0.0.1:1/INBOX")
    code, out, _ = run(capsys, "check", "--json")
    results = {r["part"]: r for r in json.loads(out)}
    assert code == 1 and not results["mailbox"]["ok"] and results["database"]["ok"]


def test_a_reject_reason_is_kept_encrypted(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deliver(workdir, "mail-17-dmarc-fail")
    run(capsys, "poll", "--once")
    code, out, _ = run(capsys, "quarantine", "--json")
    (held,) = json.loads(out)
    code, out, _ = run(
        capsys, "quarantine", "reject", held["id"], "--reason", "spoof naming Amelia Rose Exampleby"
    )
    assert code == 0
    code, out, _ = run(capsys, "messages", "--json")
    assert "Exampleby" not in out and "rejected by os:" in out
    for blob in (p.read_bytes() for p in (workdir / "var").glob("mailbot.db*")):
        assert b"Exampleby" not in blob


def test_edit_from_the_command_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deliver(workdir, "mail-02-referral-incomplete")
    run(capsys, "poll", "--once")
    code, out, _ = run(
        capsys,
        "edit",
        "COC-2026-0001",
        "referrer.role",
        "Health visitor",
        "--why",
        "told by phone",
        "--by",
        "tess",
    )
    assert code == 0 and "version 2" in out and "still missing" in out
    code, _, err = run(capsys, "edit", "COC-2026-0001", "child.shoe_size", "5")
    assert code == 2 and "child.shoe_size" in err
    code, out, _ = run(capsys, "show", "COC-2026-0001", "--json")
    shown = json.loads(out)
    assert shown["referral"]["referrer"]["role"] == "Health visitor"
    assert shown["provenance"]["referrer.role"] == "manual:tess"


def test_check_greets_the_relay_and_names_a_missing_team_address(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MAILBOT_OUTBOUND_URL", smtp_server.url("smtp"))
    code, out, _ = run(capsys, "check")
    assert code == 0 and "outbound: ok" in out and "team: ok" in out
    monkeypatch.setenv("MAILBOT_OUTBOUND_URL", "smtp://127.0.0.1:1")
    monkeypatch.delenv("MAILBOT_TEAM_ADDRESS")
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert "outbound: FAILED" in out and "team: FAILED - mail.team is not set" in out
    assert smtp_server.handler.received == []  # a check sends nothing


def test_check_warns_that_emailed_decisions_are_held_without_sender_auth(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "init")
    code, out, _ = run(capsys, "check")
    assert code == 0 and "will be held" not in out
    monkeypatch.delenv("MAILBOT_TRUSTED_AUTHSERV_ID")  # sender_auth falls back to none
    code, out, _ = run(capsys, "check")
    assert code == 0  # a warning never fails the check
    assert (
        "sender_auth: warning - mail.sender_auth is none: no team sender can be "
        "authenticated, so every SPRG decision e-mailed by the team will be held"
    ) in out


STATEFUL = [
    ["poll", "--once"],
    ["cases", "--json"],
    ["status"],
    ["messages"],
    ["quarantine"],
    ["show", "COC-2026-0001"],
    ["check"],
    ["keys", "rotate"],
    ["daily"],
    ["agenda", "--meeting", "2026-12-17"],
]


@pytest.mark.parametrize("argv", STATEFUL, ids=[" ".join(a) for a in STATEFUL])
def test_a_command_in_an_empty_folder_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Issue 12 part 5. Before: any command in a folder with no var/ and no settings made
    a new master key and an empty database there and carried on as if all were well."""
    for key in [k for k in os.environ if k.startswith("MAILBOT_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert f"settings file {tmp_path / 'mailbot.toml'}: not found" in err
    assert "store.key_file: no master key at" in err and "mailbot init" in err
    assert list(tmp_path.iterdir()) == []  # no var/, no key, no database


def test_a_missing_database_is_not_made_either(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "var" / "mailbot.db").unlink()
    code, _, err = run(capsys, "cases")
    assert code == 2 and "store.url: no database at" in err
    assert not (workdir / "var" / "mailbot.db").exists()
