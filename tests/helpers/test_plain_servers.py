"""The server helpers the benchmarks share stay plain code: benchmarks import them from a
script, where pytest is neither wanted nor always installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import sys
sys.path.insert(0, {folder!r})
import {modules}
loaded = sorted(m for m in sys.modules if m == "pytest" or m.startswith(("pytest.", "_pytest")))
assert not loaded, loaded
"""


def imports_without_pytest(folder: Path, modules: str) -> subprocess.CompletedProcess[str]:
    code = CHECK.format(folder=str(folder), modules=modules)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=folder)


def test_the_shared_server_modules_do_not_import_pytest() -> None:
    done = imports_without_pytest(ROOT / "tests", "helpers.dovecot, helpers.smtp, helpers.loopback")
    assert done.returncode == 0, done.stderr


def test_the_benchmarks_servers_load_without_pytest() -> None:
    done = imports_without_pytest(ROOT / "benchmarks", "servers")
    assert done.returncode == 0, done.stderr


def test_the_check_fails_when_pytest_is_imported() -> None:
    """The check itself can fail: importing the pytest plugin module loads pytest."""
    done = imports_without_pytest(ROOT / "tests", "helpers.servers")
    assert done.returncode != 0 and "pytest" in done.stderr
