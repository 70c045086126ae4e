"""Issue 18, benchmark 1: a backlog of referrals, ``mailbot poll --once`` against the bare work.

The corpus (``benchmarks/corpus.py``: distinct fictional children, ~70% complete, ~20%
incomplete, ~10% automatic or general mail, one referral form in nine a PDF) is
APPENDed to a private Dovecot's INBOX before each timed run; replies go to an aiosmtpd
server on loopback. Timed, each as a subprocess from start to exit:

* the bare baseline (``benchmarks/bare.py backlog``): imapclient fetch, python-docx open
  (pypdfium2 for PDFs), smtplib reply, UID MOVE; one IMAP and one SMTP connection;
* ``mailbot poll --once`` on a fresh SQLite file and/or a fresh PostgreSQL database
  (``mailbot init`` beforehand, not timed).

Checked for each run: the exit code, one reply per referral (complete and incomplete;
none to automatic or general mail) at the SMTP server, matched by In-Reply-To, and an
empty INBOX afterwards. Target: bot time <= 1.2x the baseline's, on each database.

    python benchmarks/bench_backlog.py [--messages 1000] [--db sqlite|postgresql|both] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

from common import (
    Run,
    bare_argv,
    bot_env,
    database,
    init_bot,
    machine,
    mailbot_argv,
    result,
    run_timed,
    workdir,
)
from corpus import Corpus, build_corpus
from servers import Dovecot, SmtpRecorder

TARGET = 1.2
NAME = "1. backlog"


def check(label: str, run: Run, corpus: Corpus, smtp: SmtpRecorder, dovecot: Dovecot) -> list[str]:
    """What is wrong with a finished run (empty: nothing)."""
    problems = []
    if run.returncode != 0:
        problems.append(f"{label} exited {run.returncode}: {run.stderr.strip()[-600:]}")
    counts = smtp.replies_to({item.message_id for item in corpus.items})
    expected = {item.message_id for item in corpus.items if item.expects_reply}
    missing = expected - set(counts)
    extra = set(counts) - expected
    doubled = {mid for mid, n in counts.items() if n > 1}
    if missing:
        kinds: dict[str, int] = {}
        for item in corpus.items:
            if item.message_id in missing:
                key = f"{item.kind}/{item.fmt}"
                kinds[key] = kinds.get(key, 0) + 1
        problems.append(f"{label}: {len(missing)} referrals got no reply ({kinds})")
    if extra:
        problems.append(f"{label}: {len(extra)} automatic/general messages were answered")
    if doubled:
        problems.append(f"{label}: {len(doubled)} messages answered more than once")
    left = dovecot.count("INBOX")
    if left:
        problems.append(f"{label}: {left} messages left in INBOX")
    return problems


def load(dovecot: Dovecot, smtp: SmtpRecorder, corpus: Corpus) -> float:
    smtp.clear()
    return dovecot.append_all(item.raw for item in corpus.items)


def run_baseline(dovecot: Dovecot, smtp: SmtpRecorder, corpus: Corpus) -> tuple[Run, list[str]]:
    dovecot.reset()
    load(dovecot, smtp, corpus)
    with workdir() as folder:
        run = run_timed(
            bare_argv("backlog", "--imap-port", str(dovecot.port), "--smtp-port", str(smtp.port)),
            env=dict(os.environ),
            cwd=folder,
        )
    return run, check("baseline", run, corpus, smtp, dovecot)


def run_bot(kind: str, dovecot: Dovecot, smtp: SmtpRecorder, corpus: Corpus) -> tuple[Run, list[str], int]:
    with workdir() as folder, database(kind, folder) as url:
        env = bot_env(folder, url, dovecot.url(), dovecot.password, smtp.url())
        dovecot.reset()
        init_bot(env, folder)
        load(dovecot, smtp, corpus)
        run = run_timed([*mailbot_argv(), "poll", "--once"], env, folder)
        problems = check(f"mailbot ({kind})", run, corpus, smtp, dovecot)
        return run, problems, len(smtp.arrivals())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the median is reported")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"benchmark 1 (backlog), {machine()}", flush=True)
    corpus = build_corpus(args.messages, args.seed)
    print(f"corpus: {corpus.describe()}", flush=True)
    ok = True
    problems: list[str] = []
    with Dovecot.start() as dovecot, SmtpRecorder.start() as smtp:
        for kind in kinds:
            base_times, bot_times, base_cpu, bot_cpu = [], [], [], []
            for round_ in range(args.repeat):
                order = ("baseline", "bot") if round_ % 2 == 0 else ("bot", "baseline")
                for who in order:
                    if who == "baseline":
                        run, found = run_baseline(dovecot, smtp, corpus)
                        base_times.append(run.seconds)
                        base_cpu.append(run.cpu_seconds)
                        summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "{}"
                        print(
                            f"  [{kind}] baseline  {run.seconds:7.2f} s (CPU {run.cpu_seconds:.2f} s)  "
                            f"{summary}",
                            flush=True,
                        )
                    else:
                        run, found, arrivals = run_bot(kind, dovecot, smtp, corpus)
                        bot_times.append(run.seconds)
                        bot_cpu.append(run.cpu_seconds)
                        said = " ".join(run.stdout.split())[:160]
                        print(
                            f"  [{kind}] mailbot   {run.seconds:7.2f} s (CPU {run.cpu_seconds:.2f} s)  "
                            f"exit {run.returncode}; "
                            f"{arrivals} mails at the SMTP server; {said}",
                            flush=True,
                        )
                    problems += found
                    for problem in found:
                        print(f"    PROBLEM: {problem}", flush=True)
            base, bot = statistics.median(base_times), statistics.median(bot_times)
            ratio = bot / base
            cpu_bot, cpu_base = statistics.median(bot_cpu), statistics.median(base_cpu)
            n = len(corpus.items)
            correct = not any(p.startswith(f"mailbot ({kind})") for p in problems)
            print(
                f"{kind}: mailbot {bot:.2f} s ({n / bot:.1f} messages/s), bare baseline {base:.2f} s "
                f"({n / base:.1f} messages/s): {ratio:.2f}x (target <= {TARGET}x); "
                f"replies and INBOX {'correct' if correct else 'WRONG (see above)'}; CPU (process and "
                f"its children) {cpu_bot:.1f} s against {cpu_base:.1f} s: {cpu_bot / cpu_base:.2f}x",
                flush=True,
            )
            ok &= result(
                NAME,
                f"{n} messages, {kind}: {bot:.2f} s ({n / bot:.1f} msg/s); "
                f"{corpus.expected_replies} replies, INBOX empty: {'yes' if correct else 'NO'}; "
                f"CPU {cpu_bot:.1f} s ({cpu_bot / cpu_base:.2f}x)",
                f"{base:.2f} s ({n / base:.1f} msg/s), CPU {cpu_base:.1f} s",
                ratio,
                f"<= {TARGET}x",
                ratio <= TARGET and correct,
            )
    baseline_problems = [p for p in problems if p.startswith("baseline")]
    if baseline_problems:
        print("the baseline itself went wrong: " + json.dumps(baseline_problems), file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
