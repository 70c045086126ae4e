"""What the issue-18 benchmarks share: running the bot and the baseline, timing, peak
memory, a fresh PostgreSQL database, and the ``RESULT`` line each benchmark ends with.

``RESULT {json}``: one line per figure, read by ``benchmarks/run_all.py``::

    RESULT {"benchmark": "1. backlog", "figure": "...", "baseline": "...", "ratio": 1.1,
            "target": "<= 1.2x", "met": true}
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from mailbot.app import App

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The test suite's folder: its ``helpers`` package has the private Dovecot and aiosmtpd
#: (``helpers/dovecot.py``, ``helpers/smtp.py``: no pytest) that ``servers`` builds on.
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
AUTHSERV = "mx.cscp.example.org"


def result(benchmark: str, figure: str, baseline: str, ratio: float | None, target: str, met: bool) -> bool:
    """Print the machine-readable line; returns ``met`` (for ``all(...)``)."""
    line = {
        "benchmark": benchmark,
        "figure": figure,
        "baseline": baseline,
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
        "met": bool(met),
    }
    print("RESULT " + json.dumps(line, ensure_ascii=False), flush=True)
    return bool(met)


def machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def mailbot_argv() -> list[str]:
    """The installed ``mailbot`` console script beside this interpreter, else ``-m mailbot``."""
    script = Path(sys.executable).parent / "mailbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mailbot"]


def bare_argv(*args: str) -> list[str]:
    return [sys.executable, str(HERE / "bare.py"), *args]


def bot_env(
    folder: Path, database_url: str, mailbox_url: str, password: str, outbound_url: str, **extra: str
) -> dict[str, str]:
    """The environment of a bot working in ``folder`` (its var/ there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    env.update(
        {
            "MAILBOT_MAILBOX_URL": mailbox_url,
            "MAILBOT_MAILBOX_PASSWORD": password,
            "MAILBOT_OUTBOUND_URL": outbound_url,
            "MAILBOT_DATABASE_URL": database_url,
            "MAILBOT_KEY_FILE": str(folder / "var" / "master.key"),
            "MAILBOT_TRUSTED_AUTHSERV_ID": AUTHSERV,
            "MAILBOT_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'var' / 'mailbot.db'}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on 127.0.0.1:5432 (user postgres) as a URL; dropped afterwards."""
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure means no usable server
        raise SystemExit(f"PostgreSQL at 127.0.0.1:5432 is not reachable ({type(exc).__name__})") from exc
    name = "mailbot_bench_" + secrets.token_hex(4)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """The bot's database URL: ``sqlite`` a file in ``folder`` (``var/mailbot.db``), else a fresh
    PostgreSQL database, dropped afterwards."""
    if kind == "sqlite":
        yield sqlite_url(folder)
    else:
        with postgres_database() as url:
            yield url


def local_app(folder: Path, now: datetime, **env: str) -> App:
    """A prepared bot in this process, for the benchmarks that time its parts rather than a
    command: SQLite (``folder/mailbot.db``) and the master key (``folder/master.key``) in
    ``folder``, a fixed clock at ``now``; ``env``: further ``MAILBOT_...`` settings. Not
    ``tests/helpers/bot.make_app``, which needs pytest. mailbot is imported here, not at the
    top, so that the benchmarks that only run ``mailbot`` as a command do not load it."""
    from mailbot.app import build_app
    from mailbot.clock import FixedClock
    from mailbot.settings import load_settings

    settings = {
        "MAILBOT_DATABASE_URL": f"sqlite:///{folder / 'mailbot.db'}",
        "MAILBOT_KEY_FILE": str(folder / "master.key"),
        **env,
    }
    app = build_app(load_settings(env=settings, base_dir=folder), clock=FixedClock(now))
    app.prepare()
    return app


@contextlib.contextmanager
def workdir(prefix: str = "mailbot-bench-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def init_bot(env: dict[str, str], cwd: Path) -> None:
    """``mailbot init`` (not timed): the key, the schema and the Processed folder."""
    done = subprocess.run([*mailbot_argv(), "init"], env=env, cwd=cwd, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"mailbot init failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@dataclass
class Run:
    """One timed subprocess: wall seconds, exit code, output, peak memory."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    #: ru_maxrss from ``wait4``. Not a measure of the program: Linux carries the
    #: high-water mark of the address space a process had before ``exec`` into it, and a
    #: child forked from this script starts as a copy of it (with the whole corpus in
    #: memory: 560 MB at 10,000 messages). Use ``own_hwm_kb``.
    peak_rss_kb: int
    children_peak_kb: dict[int, int]  # descendants seen while it ran: pid -> VmHWM
    #: the process's own VmHWM (reset by ``exec``), sampled every 0.05 s while it runs;
    #: VmHWM is itself a high-water mark, so only growth in the last 0.05 s can be missed
    own_hwm_kb: int = 0
    #: user + system CPU seconds of the process and the descendants it reaped (``wait4``):
    #: far less sensitive than wall time to what else the machine is doing
    cpu_seconds: float = 0.0

    @property
    def child_peak_kb(self) -> int:
        return max(self.children_peak_kb.values(), default=0)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                kids = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for kid in kids:
                out.append(int(kid))
                todo.append(int(kid))
    return out


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_timed(argv: list[str], env: dict[str, str], cwd: Path, watch_children: bool = False) -> Run:
    """Run ``argv`` to its end; wall time from start to exit (``os.wait4``, so the
    process's own peak RSS comes from the kernel). With ``watch_children`` its descendants'
    VmHWM is sampled as well (the sandbox child). The process's own VmHWM is always sampled
    (see ``Run.peak_rss_kb`` for why ``wait4``'s figure is not used for memory)."""
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    children: dict[int, int] = {}
    own = [0]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)  # noqa: S603
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            own[0] = max(own[0], _hwm_kb(proc.pid))
            if not watch_children:
                continue
            for kid in _descendants(proc.pid):
                hwm = _hwm_kb(kid)
                if hwm:
                    children[kid] = max(children.get(kid, 0), hwm)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    stop.set()
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    return Run(
        seconds,
        proc.returncode,
        out.read().decode(errors="replace"),
        err.read().decode(errors="replace"),
        int(usage.ru_maxrss),
        children,
        own[0],
        usage.ru_utime + usage.ru_stime,
    )


def fail_if(condition: bool, message: str) -> None:
    if condition:
        print(f"FAILED: {message}", file=sys.stderr, flush=True)
