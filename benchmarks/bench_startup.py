"""Start-up time (issue 18, benchmark 7): ``mailbot cases`` under 0.4 s.

The wall time of three commands on an empty database (SQLite and a fresh key file in a
temporary folder this script makes with ``mailbot init``), each run as a new process the
way an operator runs it, against the interpreter's own start in the same run:

- baseline: ``python -c pass``;
- ``mailbot --help``, ``mailbot cases`` and ``mailbot show REF`` (no such case: it says
  so and exits 1, after the same imports and the same database open as a real one);
- for reference, ``python -c "import sqlalchemy.orm"``: the ORM's own import, which every
  command that opens the database pays, and which no change to mailbot can make faster;
  and the same import with the garbage collector held back as mailbot's console entry
  holds it while starting (``mailbot.cli.entry.STARTING_THRESHOLD``), the fair floor to
  compare ``mailbot cases`` with.

Every figure is the median of ``--runs`` runs (default 15), the commands taken in turn
so that a change in the machine's load falls on all of them alike. Bytecode is cached
(as a ``pip install`` does) in a folder of the temporary one, after one run of each
command to fill it, whatever ``PYTHONDONTWRITEBYTECODE`` says. Exit 1 when ``mailbot
cases`` takes 0.4 s or more. Run: ``python benchmarks/bench_startup.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.4  # seconds, for `mailbot cases` on an idle machine
MISSING_REF = "COC-2026-0001"
#: The ORM's import with the collector held back as ``mailbot.cli.entry.starting`` does.
ORM_HELD = "import gc; gc.set_threshold(250_000, *gc.get_threshold()[1:]); import sqlalchemy.orm"


def mailbot_command() -> list[str]:
    """The console script next to this interpreter (what operators run), else ``-m``."""
    script = Path(sys.executable).parent / "mailbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mailbot"]


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    env["MAILBOT_DATABASE_URL"] = f"sqlite:///{folder / 'var' / 'mailbot.db'}"
    env["MAILBOT_KEY_FILE"] = str(folder / "var" / "master.key")
    env["MAILBOT_MAILBOX_URL"] = f"maildir:{folder / 'var' / 'inbox'}"
    env["MAILBOT_OUTBOUND_URL"] = f"outbox:{folder / 'var' / 'outbox'}"
    return env


def run_once(argv: list[str], env: dict[str, str], cwd: Path, ok: tuple[int, ...]) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) the process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise SystemExit(
            f"{' '.join(argv[-2:])} exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}"
        )
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (at least 10)")
    runs = max(10, parser.parse_args().runs)
    mailbot = mailbot_command()
    py = sys.executable
    folder = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        env = environment(folder)
        subprocess.run([*mailbot, "init"], env=env, cwd=folder, check=True, stdout=subprocess.DEVNULL)
        commands: dict[str, tuple[list[str], tuple[int, ...]]] = {
            "python -c pass": ([py, "-c", "pass"], (0,)),
            "mailbot --help": ([*mailbot, "--help"], (0,)),
            "mailbot cases": ([*mailbot, "cases"], (0,)),
            "mailbot show REF": ([*mailbot, "show", MISSING_REF], (1,)),
            "import sqlalchemy.orm": ([py, "-c", "import sqlalchemy.orm"], (0,)),
            "  the same, gc held": ([py, "-c", ORM_HELD], (0,)),
        }
        for argv, ok in commands.values():  # fills the bytecode cache; not timed
            run_once(argv, env, folder, ok)
        load_before = os.getloadavg()
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, (argv, ok) in commands.items():
                wall, used = run_once(argv, env, folder, ok)
                times[name].append(wall)
                cpu[name].append(used)
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    median = {name: statistics.median(t) for name, t in times.items()}
    base = median["python -c pass"]
    print(f"start-up of a new process, median of {runs} runs (min-max); {os.cpu_count()} CPUs;")
    print(f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (1 min)")
    print("  (CPU: the process's own user + system time, which the machine's load changes less)")
    for name, values in times.items():
        ratio = median[name] / base
        print(
            f"  {name:<22} {median[name]:6.3f} s  ({min(values):.3f}-{max(values):.3f})  "
            f"{ratio:5.1f}x python -c pass   CPU {statistics.median(cpu[name]):.3f} s"
        )
    cases = median["mailbot cases"]
    floor = median["import sqlalchemy.orm"]
    held = median["  the same, gc held"]
    print(
        f"mailbot cases is {cases / floor:.2f}x the ORM's own import in the same run, "
        f"{cases / held:.2f}x it with the collector held back as mailbot's entry holds it"
    )
    met = cases < TARGET
    print(f"target: mailbot cases < {TARGET} s on an idle machine: {'met' if met else 'MISSED'}")
    for name in ("mailbot --help", "mailbot cases", "mailbot show REF"):
        result = {
            "benchmark": "7. Start-up",
            "figure": f"{name} {median[name]:.2f} s",
            "baseline": f"python -c pass {base:.2f} s",
            "ratio": round(median[name] / base, 1),
            "target": f"{name} < {TARGET} s",
            "met": median[name] < TARGET,
        }
        print("RESULT " + json.dumps(result))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
