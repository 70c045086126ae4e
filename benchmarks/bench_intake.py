"""How fast the whole intake runs: e-mails from a Maildir to committed cases and replies.

Baseline, measured in the same run: parsing the same messages with the standard
library's e-mail parser alone. Prints per-message figures and the ratio.

    python benchmarks/bench_intake.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from common import local_app

from mailbot.intake.poller import Poller

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "emails"
KINDS = [
    "mail-01-referral-complete",
    "mail-02-referral-incomplete",
    "mail-04-handtyped-dates",
    "mail-12-out-of-office",
    "mail-19-mailing-list",
]


def variants(n: int) -> list[bytes]:
    """N distinct messages (fresh Message-IDs) cycling through the sample kinds."""
    out = []
    for i in range(n):
        raw = (SAMPLES / f"{KINDS[i % len(KINDS)]}.eml").read_bytes()
        fresh = f"X-Bench: {i}\r\nMessage-ID: <bench-{i}@x>\r\nX-Old-Message-ID:".encode()
        out.append(raw.replace(b"Message-ID:", fresh, 1))
    return out


def baseline(messages: list[bytes]) -> float:
    parser = BytesParser(policy=policy.default)
    start = time.perf_counter()
    for raw in messages:
        msg = parser.parsebytes(raw)
        for part in msg.walk():
            part.get_payload(decode=True)
    return (time.perf_counter() - start) / len(messages)


def intake(messages: list[bytes]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        app = local_app(
            base,
            datetime(2026, 10, 12, 9, tzinfo=UTC),
            MAILBOT_MAILBOX_URL=f"maildir:{base / 'inbox'}",
            MAILBOT_OUTBOUND_URL=f"outbox:{base / 'outbox'}",
            MAILBOT_LOG_LEVEL="ERROR",
        )
        for raw in messages:
            app.mailbox.append(raw)
        poller = Poller(app)
        start = time.perf_counter()
        result = poller.cycle()
        total = time.perf_counter() - start
        assert len(result.handled) == len(messages)
        drained = result.drained.sent
        app.close()
        return total / len(messages), drained


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    messages = variants(n)
    base = statistics.median(baseline(messages) for _ in range(5))
    per_message, sent = intake(messages)
    print(f"{n} messages ({', '.join(KINDS)} in turn), SQLite, Maildir in, outbox folder out")
    print(f"  e-mail parser alone (baseline): {base * 1000:7.2f} ms per message")
    print(
        f"  mailbot intake, end to end:     {per_message * 1000:7.2f} ms per message "
        f"({1 / per_message:.0f} messages/s; {sent:.0f} replies sent)"
    )
    print(f"  ratio intake / baseline:        {per_message / base:7.1f}x")


if __name__ == "__main__":
    main()
