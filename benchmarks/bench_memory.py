"""Issue 18, benchmark 4: peak memory of ``mailbot poll --once`` through a backlog.

For each backlog size: the corpus in the private Dovecot's INBOX, then the bare baseline
(``benchmarks/bare.py backlog``) and ``mailbot poll --once`` (SQLite), each as a
subprocess. Peak RSS of each: its own VmHWM, sampled every 0.05 s from ``/proc`` while
it runs (not ``wait4``'s ru_maxrss, which carries this script's own size across the
fork and exec: see ``common.Run``), and for the bot separately the largest VmHWM of its
descendants (the sandbox child). Targets: the
bot's own peak <= 1.2x the baseline's and < 250 MB; the sandbox child < 250 MB.

Up to 2,000 messages are APPENDed over IMAP; larger backlogs are written straight into
the INBOX Maildir's ``new/`` as local delivery would (APPENDing 10,000 takes minutes);
the script says which it used.

    python benchmarks/bench_memory.py [--sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bare_argv, bot_env, init_bot, machine, mailbot_argv, result, run_timed, sqlite_url, workdir  # noqa: E402  # noqa: E402
from corpus import Corpus, build_corpus  # noqa: E402
from servers import Dovecot, SmtpRecorder  # noqa: E402

NAME = "4. memory"
RATIO = 1.2
LIMIT_MB = 250
APPEND_UP_TO = 2000


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
                bot = run_timed([*mailbot_argv(), "poll", "--once"], env, folder, watch_children=True)
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
