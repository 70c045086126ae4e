"""Start-up time (issue 18, benchmark 7): the commands people run at a terminal import
only what they use, so ``mailbot cases`` starts in well under half a second.

Each command runs in a fresh interpreter, as the console script runs it, and then
reports which modules it imported: a heavy library imported at the top of a module on
the way (the PDF and Word readers, the charts, the workspace, Microsoft 365, Alembic when
no migration is due, the mail templates) shows up here. ``benchmarks/bench_startup.py``
measures the time itself.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.bot import make_env
from helpers.first_schema import REF, seed_first_schema

from mailbot.cli.main import build_parser, command_word, main, parse_args
from mailbot.errors import UsageError
from mailbot.store.db import head_revision
from mailbot.store.keys import KeyStore

#: Libraries no start-up of `cases`, `show` or `--help` may import (top-level names).
HEAVY = (
    "pdfminer",
    "pdfplumber",
    "pypdfium2",
    "matplotlib",
    "flask",
    "werkzeug",
    "waitress",
    "openpyxl",
    "msal",
    "docx",
    "msoffcrypto",
    "lxml",
    "authlib",
    "requests",
    "alembic",
    "mako",
    "jinja2",
    "holidays",
    "imapclient",
    "aiosmtpd",
)
#: Parts of SQLAlchemy and of mailbot that an empty queue does not need either.
HEAVY_MODULES = (
    "sqlalchemy.dialects.postgresql",
    "mailbot.intake",
    "mailbot.mail.reader",
    "mailbot.outbound",
    "mailbot.sandbox",
    "mailbot.forms.attachments",
    "mailbot.sprg.pack",
    "mailbot.web",
)

_PROBE = """
import json, sys
from mailbot.cli.entry import run
sys.argv = ["mailbot", *sys.argv[1:]]
try:
    code = run()
except SystemExit as exc:
    code = exc.code
heavy, parts = json.loads(HEAVY)
found = sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith(tuple(parts)))
sys.stdout.flush()
import gc
collector = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}
print("PROBE " + json.dumps({"code": code, "heavy": found, "modules": sorted(sys.modules)}), file=sys.stderr)
print("COLLECTOR " + json.dumps(collector), file=sys.stderr)
"""


def _run_probe(tmp_path: Path, argv: tuple[str, ...]) -> dict[str, Any]:
    """Run ``mailbot ARGV`` in a new interpreter, as the console script does: what the probe
    reported (exit code, heavy and all modules), the collector's state after it, its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    env.update(make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"))
    code = _PROBE.replace("HEAVY", repr(json.dumps([HEAVY, HEAVY_MODULES])))
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=99
    )
    reported: dict[str, Any] = {}
    for name in ("PROBE", "COLLECTOR"):
        line = next((ln for ln in done.stderr.splitlines() if ln.startswith(name + " ")), None)
        assert line is not None, done.stderr
        reported[name] = json.loads(line[len(name) + 1 :])
    return {**reported["PROBE"], "collector": reported["COLLECTOR"], "stdout": done.stdout}


def collector_after(tmp_path: Path, *argv: str) -> dict[str, Any]:
    """The garbage collector's state after ``mailbot ARGV`` ran in a new interpreter."""
    collector: dict[str, Any] = _run_probe(tmp_path, argv)["collector"]
    return collector


def fresh_threshold() -> tuple[int, ...]:
    """A new interpreter's own thresholds: pytest's may have been changed by a plugin or a
    test, and the console entry must give back the interpreter's, not ours."""
    done = subprocess.run(
        [sys.executable, "-c", "import gc, json; print(json.dumps(gc.get_threshold()))"],
        capture_output=True,
        text=True,
        timeout=99,
        check=True,
    )
    return tuple(json.loads(done.stdout))


def probe(tmp_path: Path, *argv: str) -> tuple[int, list[str], set[str], str]:
    """Run ``mailbot ARGV`` in a new interpreter: exit code, heavy modules, all modules, stdout."""
    found = _run_probe(tmp_path, argv)
    return found["code"], found["heavy"], set(found["modules"]), found["stdout"]


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with `mailbot init` done: the schema at the newest revision, no case."""
    monkeypatch.chdir(tmp_path)
    for key, value in make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    assert main(["init"]) == 0
    return tmp_path


def test_cases_on_an_empty_database_imports_no_heavy_library(empty: Path) -> None:
    code, heavy, modules, out = probe(empty, "cases")
    assert code == 0 and out == "No cases.\n"
    assert heavy == []
    # The audit trail is written only by --json and --search: a plain list reads it not.
    assert not {"mailbot.store.audit", "mailbot.store.audit_log"} & modules


def test_show_imports_no_heavy_library(empty: Path) -> None:
    code, heavy, modules, _out = probe(empty, "show", "COC-2026-0001")
    assert code == 1  # no such case: said in one line, after the same start-up
    assert heavy == []
    assert "mailbot.cases.views" in modules  # the probe went the whole way


def test_a_poll_builds_no_pack_and_loads_no_other_database_until_it_must(empty: Path) -> None:
    """Every ``poll`` process imports the SPRG digest's module; the agenda pack (python-docx,
    lxml) and its encryption (msoffcrypto) are loaded only when a pack goes out, and
    PostgreSQL's dialect not at all on SQLite: 10 MB of the process's floor (issue 18)."""
    code, _heavy, modules, _out = probe(empty, "poll", "--once")
    assert code == 0
    assert "mailbot.sprg.meeting_digest" in modules and "mailbot.intake.attempts" in modules
    tops = {m.split(".")[0] for m in modules}
    assert not {"docx", "lxml", "msoffcrypto"} & tops
    assert not {"mailbot.sprg.pack", "sqlalchemy.dialects.postgresql"} & modules


def test_help_imports_neither_the_database_nor_the_keys(empty: Path) -> None:
    code, heavy, modules, out = probe(empty, "--help")
    assert code == 0 and "cases" in out and "serve" in out
    assert heavy == []
    assert not {m for m in modules if m.split(".")[0] in ("sqlalchemy", "cryptography")}


def test_a_database_behind_the_newest_schema_is_still_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cheap check (one SELECT of alembic_version) must never skip a migration:
    a database of the first schema is brought up to date by the first command."""
    keys = KeyStore(tmp_path / "var" / "master.key")
    keys.create()
    seed_first_schema(f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", keys)
    code, heavy, _modules, out = probe(tmp_path, "cases")
    assert code == 0 and REF in out
    assert "alembic" in heavy  # the migration ran (a case on the queue loads holidays too)
    with sqlite3.connect(tmp_path / "var" / "mailbot.db") as db:
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == head_revision()


def test_the_head_read_from_the_file_names_is_alembics_own() -> None:
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("mailbot.store") / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_heads() == [head_revision()]


def test_the_parsers_own_lists_are_the_models() -> None:
    """``clock`` and ``users add --role`` name their choices without importing a model."""
    from mailbot.cases.clocks import RECORDS
    from mailbot.cli.serious import CLOCK_RECORDS
    from mailbot.cli.web import ROLES
    from mailbot.store.models import ROLES as MODEL_ROLES

    assert CLOCK_RECORDS == tuple(RECORDS) and ROLES == MODEL_ROLES


def test_the_collector_runs_as_usual_once_the_app_is_open(empty: Path) -> None:
    """The console entry holds the collector back while it imports, then gives it back
    its thresholds with what the start-up made frozen (``mailbot.cli.entry``)."""
    after = collector_after(empty, "cases")
    assert after["enabled"] and tuple(after["threshold"]) == fresh_threshold()
    assert after["frozen"] > 50_000  # the modules, classes and mappers of the start-up


def test_main_in_a_process_of_its_own_leaves_the_collector_alone(empty: Path) -> None:
    """Only the console entry tunes the collector: tests (and anything else calling
    ``main``) keep theirs, and nothing of theirs is frozen."""
    before = gc.get_threshold(), gc.get_freeze_count()
    assert main(["cases"]) == 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_the_command_word_skips_the_options_before_it() -> None:
    assert command_word(["--config", "x.toml", "--as", "tess", "--debug", "cases", "--json"]) == "cases"
    assert command_word(["--config=cases", "show", "REF"]) == "show"
    assert command_word(["--help", "cases"]) is None and command_word(["--debug"]) is None


def test_each_command_parsed_alone_is_the_whole_parsers_own() -> None:
    """``parse_args`` builds only the command's sub-parser: the same options, defaults
    and function as in the whole parser (which ``--help`` and errors still use)."""
    whole = build_parser()
    commands = next(a for a in whole._actions if a.dest == "command").choices
    assert commands is not None and len(commands) > 30
    for name, full in commands.items():
        alone = build_parser(name)
        choices = next(a for a in alone._actions if a.dest == "command").choices
        assert choices is not None and list(choices) == [name]
        one = choices[name]
        assert [(a.dest, a.option_strings, a.default, a.required) for a in one._actions] == [
            (a.dest, a.option_strings, a.default, a.required) for a in full._actions
        ]
        assert one.get_default("func") is full.get_default("func") is not None
    args = parse_args(["--as", "tess.team", "cases", "--status", "ready", "--json"])
    assert args.func.__name__ == "cmd_cases" and args.json and args.as_user == "tess.team"


def test_a_usage_error_still_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="invalid choice: 'cass'.*'show'.*'upgrade'"):
        parse_args(["cass"])
    # An abbreviated option whose value is a command name is read as argparse reads it.
    assert parse_args(["--as", "show", "cases"]).func.__name__ == "cmd_cases"
    assert parse_args(["--a", "show", "cases"]).func.__name__ == "cmd_cases"
    assert main(["close", "REF"]) == 2
    assert "the following arguments are required: --reason" in capsys.readouterr().err
