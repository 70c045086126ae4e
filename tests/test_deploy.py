"""``deploy/``: the systemd units are valid (``systemd-analyze verify``) and hardened as
the README says, and run only commands the bot has."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.services import missing_service

from mailbot.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
INSTALLED = "/opt/mailbot/venv/bin/mailbot"
SERVICES = ("mailbot-poll.service", "mailbot-serve.service", "mailbot-purge.service", "mailbot-daily.service")
TIMERS = ("mailbot-purge.timer", "mailbot-daily.timer")


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text())
    return parser


def test_every_unit_is_there() -> None:
    assert sorted(p.name for p in DEPLOY.iterdir()) == sorted(SERVICES + TIMERS)


@pytest.mark.parametrize("name", SERVICES)
def test_services_are_hardened_and_check_first(name: str) -> None:
    service = _unit(name)["Service"]
    assert service["User"] == "mailbot" and service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["PrivateTmp"] == "yes"
    assert service["ReadWritePaths"] == "/var/lib/mailbot"
    assert service["ExecStartPre"] == f"{INSTALLED} check"
    lines = (DEPLOY / name).read_text().splitlines()  # repeated keys: read as lines
    assert "LoadCredential=master.key:/etc/mailbot/credentials/master.key" in lines
    assert "Environment=MAILBOT_KEY_FILE=%d/master.key" in lines
    command = service["ExecStart"].removeprefix(INSTALLED + " ").split()
    build_parser().parse_args(command)  # a command the bot has, with options it takes


@pytest.mark.parametrize("name", TIMERS)
def test_each_timer_starts_its_service(name: str) -> None:
    assert (DEPLOY / name.replace(".timer", ".service")).exists()
    assert _unit(name)["Timer"]["Persistent"] == "true"


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        missing_service("systemd-analyze is not installed (Debian's systemd package)")
        return
    mailbot = Path(sys.executable).with_name("mailbot")  # the units name the installed path
    for unit in DEPLOY.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, str(mailbot)))
    done = subprocess.run(
        [tool, "verify", *sorted(str(p) for p in tmp_path.iterdir())],  # noqa: S603
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    problems = [
        line for line in (done.stdout + done.stderr).splitlines() if "mailbot" in line or "Unknown" in line
    ]
    assert done.returncode == 0 and problems == [], done.stdout + done.stderr
