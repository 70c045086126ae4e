"""Issue 18, benchmark 3: push latency, APPEND to reply, with ``mailbot poll`` idling.

A private Dovecot and an SMTP server on loopback; ``mailbot poll`` (the long-running
command, IDLE on INBOX) and, at the same time on the same server, a bare imapclient IDLE
client (``benchmarks/bare.py idle``) on a folder of its own, ``Bare`` (on INBOX it would
never hear of a message the bot filed before Dovecot's notice went out). Two warm-up
referrals first (their replies awaited, not counted), then referrals from the corpus
(complete and incomplete, one form in nine a PDF) APPENDed 200 ms apart, each to INBOX
and at once to ``Bare``. For each: its APPEND to INBOX done -> the bot's reply received at
the SMTP server, and its APPEND to ``Bare`` done -> the bare client's EXISTS notice
(notices carry no Message-ID: paired in order, and refused unless there is one for every
APPEND, warm-up included). Target: the bot's p95 <= the bare client's p95 + 0.3 s; the
RESULT ratio is the difference of the two p95s in seconds, not a multiple.

    python benchmarks/bench_latency.py [--messages 100] [--gap 0.2] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

from common import bare_argv, bot_env, database, init_bot, machine, mailbot_argv, result, workdir
from corpus import build_corpus
from servers import Dovecot, SmtpRecorder

NAME = "3. latency"
MARGIN = 0.3
WARMUP = 2


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[min(len(ordered), int(rank)) - 1]


def stop(proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_for(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between APPENDs")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    print(f"benchmark 3 (latency), {args.db}, {machine()}", flush=True)
    # Enough corpus for the referrals wanted (90% of a corpus are referrals).
    corpus = build_corpus(max(100, round((args.messages + WARMUP) / 0.85)), args.seed)
    referrals = [item for item in corpus.items if item.expects_reply][: args.messages + WARMUP]
    if len(referrals) < args.messages + WARMUP:
        raise SystemExit("corpus too small")
    warmup, measured = referrals[:WARMUP], referrals[WARMUP:]
    pdfs = sum(item.fmt == "pdf" for item in measured)
    print(f"{len(measured)} referrals ({pdfs} PDF) appended {args.gap:.1f} s apart", flush=True)
    total = len(referrals)
    with (
        Dovecot.start() as dovecot,
        SmtpRecorder.start() as smtp,
        workdir() as folder,
        database(args.db, folder) as url,
        tempfile.TemporaryFile() as bot_log,
    ):
        env = bot_env(folder, url, dovecot.url(), dovecot.password, smtp.url())
        dovecot.reset()
        init_bot(env, folder)
        with dovecot.client() as client:
            client.create_folder("Bare")
        bare = subprocess.Popen(  # noqa: S603
            bare_argv("idle", "--imap-port", str(dovecot.port), "--expect", str(total), "--folder", "Bare"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=dict(os.environ),
        )
        bot = subprocess.Popen(  # noqa: S603
            [*mailbot_argv(), "poll"], env=env, cwd=folder, stdout=bot_log, stderr=bot_log
        )
        try:
            assert bare.stdout is not None
            if bare.stdout.readline().strip() != "READY":
                raise SystemExit("the bare IDLE client did not start")
            appended: dict[str, float] = {}
            bare_appended: dict[str, float] = {}
            with dovecot.client() as client:
                for item in warmup:
                    client.append("INBOX", item.raw)
                    appended[item.message_id] = time.time()
                    client.append("Bare", item.raw)
                    bare_appended[item.message_id] = time.time()
                ids = {item.message_id for item in warmup}
                if not wait_for(lambda: len(smtp.replies_to(ids)) == len(ids), 120):
                    raise SystemExit("the warm-up referrals were not answered within 120 s")
                time.sleep(1.0)  # back in IDLE
                start = time.monotonic()
                for k, item in enumerate(measured):
                    delay = start + k * args.gap - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    client.append("INBOX", item.raw)
                    appended[item.message_id] = time.time()
                    client.append("Bare", item.raw)
                    bare_appended[item.message_id] = time.time()
            ids = {item.message_id for item in measured}
            wait_for(lambda: len(smtp.replies_to(ids)) == len(ids), 120)
            try:
                bare.wait(timeout=15)  # it ends once it has seen every message
            except subprocess.TimeoutExpired:
                bare.terminate()
                bare.wait(timeout=10)
            notices = [
                float(line.split()[1])
                for line in bare.stdout.read().splitlines()
                if line.startswith("NOTICE ")
            ]
        finally:
            stop(bot)
            stop(bare, 5)
        arrivals = {a.in_reply_to: a.at for a in smtp.arrivals() if a.in_reply_to in ids}
        bot_latency = [
            arrivals[i.message_id] - appended[i.message_id] for i in measured if i.message_id in arrivals
        ]
        missing = len(measured) - len(bot_latency)
        if missing:
            bot_log.seek(0)
            print(f"  {missing} referrals got no reply; bot log tail:", flush=True)
            print(bot_log.read().decode(errors="replace")[-1500:], flush=True)
        # The bare client's notices carry no Message-ID, only a time: they can be paired
        # with the APPENDs by position only, and one notice missed (a warm-up one too)
        # would shift every pair after it. So all of them, or no figure.
        if len(notices) != total:
            raise SystemExit(
                f"the bare IDLE client reported {len(notices)} notices for {total} APPENDs to Bare: "
                "they carry no Message-ID, so they cannot be paired with the messages"
            )
        pairs = list(zip(referrals, notices, strict=True))[WARMUP:]
        bare_latency = [n - bare_appended[i.message_id] for i, n in pairs]
    if not bare_latency:
        raise SystemExit("the bare IDLE client saw no new message")
    figures = {}
    for who, values in (("mailbot", bot_latency), ("bare IDLE", bare_latency)):
        p50, p95, top = percentile(values, 0.5), percentile(values, 0.95), max(values)
        figures[who] = (p50, p95, top)
        print(
            f"  {who:10s} n={len(values):3d}  p50 {p50:6.3f} s  p95 {p95:6.3f} s  max {top:6.3f} s",
            flush=True,
        )
    bot_p95, base_p95 = figures["mailbot"][1], figures["bare IDLE"][1]
    met = missing == 0 and bot_p95 <= base_p95 + MARGIN
    print(
        f"APPEND -> reply p95 {bot_p95:.3f} s against APPEND -> notice p95 {base_p95:.3f} s "
        f"(+{bot_p95 - base_p95:.3f} s; target +{MARGIN} s at most); {missing} without reply",
        flush=True,
    )
    p50, p95, top = figures["mailbot"]
    b50, b95, btop = figures["bare IDLE"]
    result(
        NAME,
        f"{len(measured)} referrals {args.gap:.1f} s apart ({args.db}): APPEND->reply p50 {p50:.2f} s, "
        f"p95 {p95:.2f} s, max {top:.2f} s; {missing} unanswered; ratio column: p95 minus bare p95, in s",
        f"bare IDLE APPEND->notice p50 {b50:.2f} s, p95 {b95:.2f} s, max {btop:.2f} s",
        bot_p95 - base_p95,
        f"p95 <= bare p95 + {MARGIN} s",
        met,
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
