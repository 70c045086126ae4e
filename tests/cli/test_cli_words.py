"""The command line in people's terms: dates as DD/MM/YYYY, statuses as shown, kinds."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from helpers.bot import eml, make_env

from mailbot.cli.main import main
from mailbot.errors import UsageError
from mailbot.mail.maildir import MaildirMailbox
from mailbot.sprg.calendar import parse_day


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    env = make_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
        MAILBOT_SPRG_MEETINGS="2099-12-17,2099-12-31",
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_dates_as_people_write_them() -> None:
    assert parse_day("17/12/2026", "--meeting") == date(2026, 12, 17)
    assert parse_day(" 2026-12-17 ", "--meeting") == date(2026, 12, 17)
    assert parse_day("7/1/2027", "--meeting") == date(2027, 1, 7)
    for bad in ("31/02/2026", "12/17/2026", "17-12-26", "tomorrow", "2026-12-17T00:00"):
        with pytest.raises(UsageError, match="DD/MM/YYYY or YYYY-MM-DD"):
            parse_day(bad, "--meeting")


def test_schedule_outcome_and_status_words(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = MaildirMailbox(workdir / "var" / "inbox")
    for name in ("mail-01-referral-complete", "mail-11-no-attachment"):
        box.append(eml(name))
    assert run(capsys, "init")[0] == 0
    assert run(capsys, "poll", "--once")[0] == 0
    code, out = run(capsys, "schedule", "COC-2026-0001", "--meeting", "31/12/2099")
    assert code == 0 and "31" in out
    code, out = run(capsys, "cases", "--status", "on an agenda", "--json")
    scheduled = json.loads(out)
    assert [(c["ref"], c["meeting_date"]) for c in scheduled] == [("COC-2026-0001", "2099-12-31")]
    assert (
        run(
            capsys,
            "outcome",
            "COC-2026-0001",
            "--single",
            "N",
            "--multi",
            "N",
            "--final-report-date",
            "05/03/2100",
            "--force",
        )[0]
        == 0
    )  # before the meeting
    code, out = run(capsys, "show", "COC-2026-0001", "--json")
    assert json.loads(out)["referral"]["outcome"]["final_report_date"] == "2100-03-05"
    code, out = run(capsys, "cases", "--status", "Waiting for referrer")
    assert "COC-2026-0002" in out and "COC-2026-0001" not in out
    assert main(["schedule", "COC-2026-0001", "--meeting", "32/12/2099"]) == 2


def test_messages_say_when_no_form_came(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = MaildirMailbox(workdir / "var" / "inbox")
    for name in ("mail-01-referral-complete", "mail-11-no-attachment"):
        box.append(eml(name))
    assert run(capsys, "init")[0] == 0
    assert run(capsys, "poll", "--once")[0] == 0
    code, out = run(capsys, "messages")
    lines = {
        line.split()[0]: line
        for line in out.splitlines()[2:]
        if line.strip() and not line.startswith("The reasons")
    }
    kinds = sorted(
        ("form received (complete)" in line, "no form attached" in line) for line in lines.values()
    )
    assert kinds == [(False, True), (True, False)]
    assert "form received (incomplete)" not in out
