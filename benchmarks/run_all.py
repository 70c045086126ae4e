"""Runs issue 18's seven benchmarks one after another and prints the README's table.

Each benchmark runs as a subprocess (its output shown as it comes, indented); every
``RESULT {json}`` line it prints becomes a row of the Markdown table: benchmark | figure
| baseline | ratio | target | met, under the date, the machine (cores, load average at
the start) and the command. A benchmark whose file does not exist yet is skipped with a
note; one that prints no RESULT line gets a row saying so. Exit status 1 when any
target is missed (or any benchmark failed).

``--quick``: small sizes for a smoke run (100 messages; latency 20 referrals; memory
100 messages); benchmarks of other hands get ``--quick`` only if their ``--help``
offers it.

    python benchmarks/run_all.py [--quick] [--only 1,3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: number, name, script, arguments for a full run, arguments for --quick (None: ask --help)
BENCHMARKS: list[tuple[int, str, str, list[str], list[str] | None]] = [
    (
        1,
        "backlog",
        "bench_backlog.py",
        ["--messages", "1000", "--db", "both"],
        ["--messages", "100", "--db", "both"],
    ),
    (2, "workers", "bench_workers.py", ["--messages", "1000"], ["--messages", "100"]),
    (3, "latency", "bench_latency.py", ["--messages", "100"], ["--messages", "20"]),
    (4, "memory", "bench_memory.py", ["--sizes", "1000,10000"], ["--sizes", "100"]),
    (5, "agenda pack", "bench_agenda.py", [], None),
    (6, "form reading", "bench_forms.py", [], None),
    (7, "start-up", "bench_startup.py", [], None),
]


def offers_quick(script: Path) -> bool:
    try:
        done = subprocess.run(  # noqa: S603
            [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return False
    return "--quick" in done.stdout


def run_one(script: Path, argv: list[str]) -> tuple[int, list[dict[str, object]], float]:
    """Run a benchmark, echoing its output; its exit code, RESULT rows and seconds."""
    started = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, str(script), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        cwd=HERE.parent,
    )
    rows: list[dict[str, object]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"    {line.rstrip()}", flush=True)
        if line.startswith("RESULT "):
            try:
                rows.append(json.loads(line[len("RESULT ") :]))
            except json.JSONDecodeError:
                rows.append({"figure": f"unreadable RESULT line: {line.strip()[:200]}", "met": False})
    return proc.wait(), rows, time.monotonic() - started


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| benchmark | figure | baseline | ratio | target | met |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                cell(row.get(key)) for key in ("benchmark", "figure", "baseline", "ratio", "target", "met")
            )
            + " |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", default="", help="comma-separated benchmark numbers")
    parser.add_argument("--out", type=Path, help="also write the Markdown to this file")
    parser.add_argument(
        "--memory-sizes",
        default="",
        help="backlog sizes for benchmark 4 (default 1000,10000; 10,000 takes about ten minutes here)",
    )
    args = parser.parse_args()
    only = {int(x) for x in args.only.split(",") if x.strip()}
    load = os.getloadavg()
    started = datetime.now(UTC)
    command = "python benchmarks/run_all.py" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    print(f"{command}: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    rows: list[dict[str, object]] = []
    notes: list[str] = []
    failed = False
    chosen = [b for b in BENCHMARKS if not only or b[0] in only]
    for position, (number, name, filename, full, quick) in enumerate(chosen, 1):
        script = HERE / filename
        label = f"{number}. {name}"
        if not script.exists():
            notes.append(f"{label}: skipped, benchmarks/{filename} does not exist yet")
            print(f"[{position}/{len(chosen)}] {label}: skipped ({filename} does not exist yet)", flush=True)
            continue
        if args.quick:
            argv = quick if quick is not None else (["--quick"] if offers_quick(script) else [])
        else:
            argv = full
        if number == 4 and args.memory_sizes:
            argv = ["--sizes", args.memory_sizes]
        print(
            f"[{position}/{len(chosen)}] {label}: python benchmarks/{filename} {shlex.join(argv)}", flush=True
        )
        code, found, seconds = run_one(script, argv)
        print(f"[{position}/{len(chosen)}] {label}: exit {code} after {seconds:.0f} s", flush=True)
        for row in found:
            row.setdefault("benchmark", label)
        if not found:
            found = [{"benchmark": label, "figure": f"no RESULT line (exit {code})", "met": False}]
        if code != 0 and all(row.get("met") for row in found):
            notes.append(f"{label}: exited {code} although its RESULT lines say met")
            failed = True
        rows += found
    failed |= any(not row.get("met") for row in rows)
    finished = datetime.now(UTC)
    out = [
        "",
        f"Run {started:%Y-%m-%d %H:%M}-{finished:%H:%M} UTC, {os.cpu_count()} cores, "
        f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.",
        f"Command: `{command}`",
        "",
        table(rows),
    ]
    if notes:
        out += ["", *(f"- {note}" for note in notes)]
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
