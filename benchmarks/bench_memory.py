"""Issue 18, benchmark 4: peak memory of ``mailbot poll --once`` through a backlog.

For each backlog size: the corpus in the private Dovecot's INBOX, then the bare baseline
(``benchmarks/bare.py backlog``) and ``mailbot poll --once`` (SQLite), each as a
subprocess. Peak RSS of each: its own VmHWM, sampled every 0.05 s from ``/proc`` while
it runs (not ``wait4``'s ru_maxrss, which carries this script's own size across the
fork and exec: see ``common.Run``), and for the bot separately the largest VmHWM of its
descendants (the sandbox child). Targets: the
bot's own peak <= 1.2x the baseline's and < 250 MB; the sandbox child < 250 MB.

Beside them, the floor: a process that imports every module the bot's own process had
imported when it exited (the list recorded by the bot run, in import order), does
nothing else, and reports its own VmHWM. That is the least any ``poll --once`` built on
the same libraries can peak at; the bot's peak less the floor is what its work costs.
Its RESULT row is reported without a target. (To record the list, the bot runs as
``python -c`` with the console script's two lines and an ``atexit`` hook, not as the
console script itself; the imports and the work are the same.)

Up to 2,000 messages are APPENDed over IMAP; larger backlogs are written straight into
the INBOX Maildir's ``new/`` as local delivery would (APPENDing 10,000 takes minutes);
the script says which it used.

    python benchmarks/bench_memory.py [--sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from common import bare_argv, bot_env, init_bot, machine, result, run_timed, sqlite_url, workdir
from corpus import Corpus, build_corpus
from servers import Dovecot, SmtpRecorder

NAME = "4. memory"
RATIO = 1.2
LIMIT_MB = 250
APPEND_UP_TO = 2000

#: The bot, as its console script runs it, writing its modules' names when it exits.
RECORDING = """
import atexit, json, sys
def _record(path=sys.argv.pop(1)):
    with open(path, "w") as f:
        json.dump(list(sys.modules), f)
atexit.register(_record)
from mailbot.cli.entry import run
sys.exit(run())
"""

#: Imports the recorded modules (a ``__main__`` aside) and nothing else; prints its VmHWM.
FLOOR = """
import importlib, json, sys
failed = []
for name in json.load(open(sys.argv[1])):
    if name in sys.modules or name == "__main__" or name.endswith(".__main__"):
        continue
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name)
failed = [name for name in failed if name not in sys.modules]  # made later by their package
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(json.dumps({"hwm_kb": hwm, "modules": len(sys.modules), "failed": failed}))
"""


def load(dovecot: Dovecot, smtp: SmtpRecorder, corpus: Corpus, append_up_to: int) -> str:
    smtp.clear()
    raws = (item.raw for item in corpus.items)
    if len(corpus.items) <= append_up_to:
        seconds = dovecot.append_all(raws)
        return f"APPENDed in {seconds:.1f} s"
    seconds = dovecot.deliver_files(raws)
    return f"written into the Maildir in {seconds:.1f} s"


def mb(kb: int) -> float:
    return kb / 1024


def import_floor(modules: Path, env: dict[str, str], cwd: Path) -> tuple[int, int, list[str]]:
    """Importing ``modules`` (a JSON list) in a new interpreter: its peak RSS (kB), how
    many modules it then held, and those that would not import."""
    done = subprocess.run(
        [sys.executable, "-c", FLOOR, str(modules)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return int(found["hwm_kb"]), int(found["modules"]), [str(name) for name in found["failed"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument(
        "--append-up-to", type=int, default=APPEND_UP_TO, help="larger backlogs go straight into the Maildir"
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"benchmark 4 (memory), SQLite, {machine()}", flush=True)
    ok = True
    with Dovecot.start() as dovecot, SmtpRecorder.start() as smtp:
        for size in sizes:
            corpus = build_corpus(size, args.seed)
            print(f"corpus: {corpus.describe()}", flush=True)
            dovecot.reset()
            how = load(dovecot, smtp, corpus, args.append_up_to)
            with workdir() as folder:
                base = run_timed(
                    bare_argv("backlog", "--imap-port", str(dovecot.port), "--smtp-port", str(smtp.port)),
                    dict(os.environ),
                    folder,
                )
            print(
                f"  [{size}] baseline {base.seconds:.1f} s, exit {base.returncode}, peak RSS "
                f"{mb(base.own_hwm_kb):.0f} MB ({how})",
                flush=True,
            )
            with workdir() as folder:
                env = bot_env(folder, sqlite_url(folder), dovecot.url(), dovecot.password, smtp.url())
                dovecot.reset()
                init_bot(env, folder)
                how = load(dovecot, smtp, corpus, args.append_up_to)
                modules = folder / "modules.json"
                bot = run_timed(
                    [sys.executable, "-c", RECORDING, str(modules), "poll", "--once"],
                    env,
                    folder,
                    watch_children=True,
                )
                floor = import_floor(modules, env, folder) if modules.exists() else None
            left = dovecot.count("INBOX")
            child = bot.child_peak_kb
            own = bot.own_hwm_kb
            print(
                f"  [{size}] mailbot {bot.seconds:.1f} s, exit {bot.returncode}, "
                f"own peak RSS {mb(own):.0f} MB, "
                f"sandbox child {mb(child):.0f} MB ({len(bot.children_peak_kb)} descendant(s) seen), "
                f"{left} left in INBOX ({how})",
                flush=True,
            )
            if bot.returncode != 0:
                print(f"    stderr: {bot.stderr.strip()[-600:]}", flush=True)
            ratio = own / base.own_hwm_kb if base.own_hwm_kb else None
            ok &= result(
                NAME,
                f"{size} messages: poll --once peak RSS {mb(own):.0f} MB (sandbox child {mb(child):.0f} MB)",
                f"{mb(base.own_hwm_kb):.0f} MB",
                ratio,
                f"<= {RATIO}x and < {LIMIT_MB} MB (child < {LIMIT_MB} MB)",
                ratio is not None
                and ratio <= RATIO
                and mb(own) < LIMIT_MB
                and mb(child) < LIMIT_MB
                and bot.returncode == 0
                and left == 0,
            )
            if floor is not None:
                floor_kb, count, failed = floor
                print(
                    f"  [{size}] import floor (the bot's {count} modules imported, no work): peak RSS "
                    f"{mb(floor_kb):.0f} MB"
                    + (f"; {len(failed)} would not import: {failed[:5]}" if failed else ""),
                    flush=True,
                )
                print(
                    f"  [{size}] floor {floor_kb / base.own_hwm_kb:.2f}x the baseline; mailbot "
                    f"{own / floor_kb:.2f}x the floor (+{mb(own - floor_kb):.0f} MB for the work)",
                    flush=True,
                )
                result(
                    NAME,
                    f"{size} messages: import floor (poll --once's modules, no work) peak RSS "
                    f"{mb(floor_kb):.0f} MB; poll --once {own / floor_kb:.2f}x it",
                    f"{mb(base.own_hwm_kb):.0f} MB",
                    floor_kb / base.own_hwm_kb,
                    "reported (no target)",
                    True,
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
