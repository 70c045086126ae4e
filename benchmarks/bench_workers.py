"""Issue 18, benchmark 2: the same backlog on PostgreSQL with 1, 2 and 4 workers at once.

For each worker count: a fresh PostgreSQL database, ``mailbot init``, the corpus
APPENDed to the private Dovecot's INBOX, then N ``mailbot poll --once`` processes started
together; wall time until the last exits. Checked: no message handled twice and no reply
sent twice (replies counted per In-Reply-To at the SMTP server; inbound rows from
``mailbot messages --json`` and cases from ``mailbot cases --json``), every referral
answered, INBOX empty. Figures: wall time, speed-up against one worker, duplicates
(target 0). The bare baseline (one process, ``benchmarks/bare.py``) runs in the same run
for scale.

    python benchmarks/bench_workers.py [--messages 1000] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from common import (
    bare_argv,
    bot_env,
    init_bot,
    machine,
    mailbot_argv,
    postgres_database,
    result,
    run_timed,
    workdir,
)
from corpus import Corpus, build_corpus
from servers import Dovecot, SmtpRecorder

NAME = "2. workers"


@dataclass
class WorkerRun:
    workers: int
    seconds: float
    codes: list[int]
    handled: list[int]
    stderr: list[str]
    double_replies: int
    missing_replies: int
    wrong_replies: int
    inbound_rows: int
    duplicate_rows: int  # inbound rows beyond one per Message-ID
    held_after_attempts: int  # held as "could not be handled after N attempts"
    actions: dict[str, int]
    cases: int
    left_in_inbox: int


def json_of(argv: list[str], env: dict[str, str], cwd: Path) -> list[dict[str, object]]:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[-2:])} failed: {done.stderr[-600:]}")
    data = json.loads(done.stdout)
    return data if isinstance(data, list) else list(data.get("cases", data.get("items", [])))


def run_workers(count: int, dovecot: Dovecot, smtp: SmtpRecorder, corpus: Corpus) -> WorkerRun:
    with workdir() as folder, postgres_database() as url:
        env = bot_env(folder, url, dovecot.url(), dovecot.password, smtp.url())
        dovecot.reset()
        init_bot(env, folder)
        smtp.clear()
        dovecot.append_all(item.raw for item in corpus.items)
        started = time.perf_counter()
        procs = [
            subprocess.Popen(  # noqa: S603
                [*mailbot_argv(), "poll", "--once"],
                env=env,
                cwd=folder,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        outputs = [p.communicate() for p in procs]
        seconds = time.perf_counter() - started
        codes = [p.returncode for p in procs]
        handled = []
        for out, _err in outputs:
            words = out.split()
            handled.append(int(words[words.index("handled") + 1]) if "handled" in words else -1)
        ids = {item.message_id for item in corpus.items}
        replies = smtp.replies_to(ids)
        expected = {item.message_id for item in corpus.items if item.expects_reply}
        rows = json_of([*mailbot_argv(), "messages", "--json"], env, folder)
        per_id: dict[str, int] = {}
        actions: dict[str, int] = {}
        for row in rows:
            per_id[str(row.get("message_id"))] = per_id.get(str(row.get("message_id")), 0) + 1
            actions[str(row.get("action"))] = actions.get(str(row.get("action")), 0) + 1
        held = sum(1 for r in rows if str(r.get("reason") or "").startswith("could not be handled after"))
        cases = json_of([*mailbot_argv(), "cases", "--json"], env, folder)
        return WorkerRun(
            workers=count,
            seconds=seconds,
            codes=codes,
            handled=handled,
            stderr=[err.strip()[-300:] for _out, err in outputs if err.strip()],
            double_replies=sum(1 for n in replies.values() if n > 1),
            missing_replies=len(expected - set(replies)),
            wrong_replies=len(set(replies) - expected),
            inbound_rows=len(rows),
            duplicate_rows=sum(n - 1 for n in per_id.values()),
            held_after_attempts=held,
            actions=dict(sorted(actions.items())),
            cases=len(cases),
            left_in_inbox=dovecot.count("INBOX"),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    counts = [int(x) for x in args.workers.split(",")]
    print(f"benchmark 2 (workers), PostgreSQL, {machine()}", flush=True)
    corpus = build_corpus(args.messages, args.seed)
    print(f"corpus: {corpus.describe()}", flush=True)
    referrals = sum(1 for item in corpus.items if item.expects_reply)
    ok = True
    with Dovecot.start() as dovecot, SmtpRecorder.start() as smtp:
        dovecot.reset()
        dovecot.append_all(item.raw for item in corpus.items)
        smtp.clear()
        with workdir() as folder:
            base = run_timed(
                bare_argv("backlog", "--imap-port", str(dovecot.port), "--smtp-port", str(smtp.port)),
                dict(os.environ),
                folder,
            )
        print(f"  bare baseline (1 process): {base.seconds:.2f} s", flush=True)
        runs = []
        for count in counts:
            run = run_workers(count, dovecot, smtp, corpus)
            runs.append(run)
            print(f"  {count} worker(s): {json.dumps(asdict(run))}", flush=True)
        one = next((r for r in runs if r.workers == 1), runs[0])
        for run in runs:
            seconds = run.seconds
            speedup = one.seconds / seconds
            duplicates = run.double_replies + run.duplicate_rows + max(0, run.cases - referrals)
            correct = (
                all(c == 0 for c in run.codes)
                and run.missing_replies == 0
                and run.wrong_replies == 0
                and run.left_in_inbox == 0
                and run.inbound_rows == len(corpus.items)
                and run.held_after_attempts == 0
            )
            print(
                f"{run.workers} worker(s): {seconds:.2f} s, speed-up {speedup:.2f}x against 1; "
                f"duplicates {duplicates}; handled per worker {run.handled}; "
                f"held after repeated attempts {run.held_after_attempts}; "
                f"{'all replies sent, INBOX empty' if correct else 'WRONG: see the line above'}",
                flush=True,
            )
            ok &= result(
                NAME,
                f"{len(corpus.items)} messages, PostgreSQL, {run.workers} worker(s): {seconds:.2f} s, "
                f"speed-up {speedup:.2f}x, duplicates {duplicates}",
                f"1 worker {one.seconds:.2f} s; bare {base.seconds:.2f} s",
                speedup,
                "0 duplicates; every reply; none held; INBOX empty",
                duplicates == 0 and correct,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
