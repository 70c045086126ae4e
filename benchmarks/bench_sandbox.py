"""What the sandbox costs per message, by how its child is made.

- ``in-process``: ``read_attachments`` in the bot itself (no isolation: the baseline);
- ``worker``: one reusable child, started once, recycled after a breach or every 200
  messages (what ``AttachmentSandbox`` does by default);
- ``fork``: a fork of the bot per message (copy-on-write, limits set after the fork);
- ``spawn``: a fresh interpreter per message (imports paid every time).

Per message: the sample form (coc-01, .docx) read through each; the first message
(start-up included) is reported apart.  Run: ``python benchmarks/bench_sandbox.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbot.forms import read_attachments  # noqa: E402
from mailbot.mail.reader import read_message  # noqa: E402
from mailbot.sandbox import AttachmentSandbox, SandboxLimits  # noqa: E402

FORM = (ROOT / "tests" / "data" / "forms" / "coc-01-complete.docx").read_bytes()
MAIL = (ROOT / "tests" / "data" / "emails" / "mail-01-referral-complete.eml").read_bytes()
ROUNDS = 20
PARTS = [("referral.docx", "application/octet-stream", FORM)]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(read, rounds: int = ROUNDS) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    read()
    first = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        read()
        times.append((time.perf_counter() - start) * 1000)
    return first, times


def main() -> None:
    rows = []
    first, times = measure(lambda: read_attachments(PARTS, max_bytes=25 << 20, reference_year=2026))
    rows.append(("in-process (no isolation)", first, times))
    # fork: the child inherits the bot's imports, so load what the child needs first
    # (what a bot using fork would do; it costs the bot's own memory).
    import pdfplumber  # noqa: F401
    import pypdf  # noqa: F401

    for mode in ("worker", "fork", "spawn"):
        box = AttachmentSandbox(SandboxLimits(mode=mode))  # type: ignore[arg-type]
        try:
            first, times = measure(
                lambda b=box: b.read_attachments(  # type: ignore[misc]
                    PARTS, max_bytes=25 << 20, reference_year=2026
                ),
                ROUNDS if mode != "spawn" else 8,
            )
        finally:
            box.close()
        rows.append((f"sandbox, {mode}", first, times))
    first, times = measure(lambda: read_message(MAIL))
    rows.append(("read_message in-process", first, times))
    box = AttachmentSandbox()
    try:
        first, times = measure(lambda: box.read_message(MAIL))
    finally:
        box.close()
    rows.append(("read_message, sandbox worker", first, times))
    print(f"{'per message (coc-01.docx)':32s} {'first ms':>9s} {'median ms':>10s} {'p95 ms':>8s}")
    for name, first, times in rows:
        print(f"{name:32s} {first:9.1f} {statistics.median(times):10.1f} {p95(times):8.1f}")


if __name__ == "__main__":
    main()
