"""The whole bot against the hostile corpus, through its command line only.

Each hostile message is delivered with a normal referral right behind it, in one
inbox; one ``mailbot poll --once`` handles them all (under a hard timeout), and
``mailbot messages --json`` and the outbox say what became of each.  Used by
tests/intake/test_hostile_mail*.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from helpers import hostile
from helpers.bot import make_env
from mailbot.mail.maildir import MaildirMailbox

NORMAL = (hostile.EMAILS / "mail-01-referral-complete.eml").read_bytes()
NORMAL_ID = b"<DB9PR09MBB173314D3499BA0EAF4329C8FDAC@DB9PR09MBB173.eurprd09.prod.example.net>"


def normal_referral(n: int) -> tuple[str, bytes]:
    """The sample referral with its own Message-ID and subject: each is a referral of its
    own (the same form under the same subject again would join the first case)."""
    mid = f"<normal-{n}@exampleton-primary.example.org>"
    subject = b"Subject: Case of Concern referral - A.E. (Year 6)"
    return mid, NORMAL.replace(NORMAL_ID, mid.encode()).replace(subject, subject + f" - part {n}".encode())


def hostile_message(name: str, build: Callable[[], bytes]) -> tuple[str, bytes]:
    mid = f"<{name}@example.org>"
    raw = build()
    if b"<hostile.1@example.org>" in raw:
        raw = raw.replace(b"<hostile.1@example.org>", mid.encode())
    elif name == "message_id_8000_comments":
        mid = "<many.comments@example.org>"  # its own id, behind 8,000 comments
    else:
        raw = f"Message-ID: {mid}\r\n".encode() + raw
    return mid, raw


@dataclass
class Run:
    """What one poll made of the inbox."""

    exit_code: int
    seconds: float
    rows: dict[str, dict[str, object]]
    order: list[str]
    left: int
    outbox: list[EmailMessage] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = Path()
    stderr: str = ""

    def replies_to(self, mid: str) -> list[EmailMessage]:
        return [m for m in self.outbox if str(m.get("In-Reply-To", "")).strip() == mid]

    def reply_text(self, mid: str) -> str:
        texts = []
        for reply in self.replies_to(mid):
            body = reply.get_body(("plain",))
            texts.append(body.get_content() if body is not None else "")
        return "\n".join(texts)

    def seconds_after(self, mid: str) -> float:
        """Time from this message's decision to the next one's: its handling time."""
        index = self.order.index(mid)
        if index + 1 >= len(self.order):
            return 0.0
        stamps = [
            datetime.fromisoformat(str(self.rows[m]["received_at"])) for m in self.order[index : index + 2]
        ]
        return (stamps[1] - stamps[0]).total_seconds()

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailbot", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


#: ``mailbot poll --once`` as the console script runs it, then the process's own peak
#: resident memory (VmHWM: this process only, not the sandbox worker or LibreOffice).
_POLL_MEASURED = (
    "import sys\n"
    "from pathlib import Path\n"
    "from mailbot.cli.entry import run\n"
    "sys.argv = ['mailbot', 'poll', '--once']\n"
    "code = run()\n"
    "hwm = [l for l in Path('/proc/self/status').read_text().splitlines()"
    " if l.startswith('VmHWM:')][0]\n"
    "print(f'MAIN_PEAK_MB={int(hwm.split()[1]) / 1024:.1f}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def main_peak_mb(stderr: str) -> float | None:
    """The poll process's own peak RSS, as ``_POLL_MEASURED`` printed it."""
    for line in reversed(stderr.splitlines()):
        if line.startswith("MAIN_PEAK_MB="):
            return float(line.split("=", 1)[1])
    return None


def run_bot(
    tmp: Path, database_url: str, messages: list[tuple[str, bytes]], timeout: float, **extra_env: str
) -> Run:
    """``mailbot init``, the messages delivered in order, one ``poll --once`` (measured:
    see ``main_peak_mb``), then ``messages --json`` and the outbox.

    The corpus comes from a few senders in one burst, so the reply limits (5 an hour to
    one address, tested in tests/outbound/test_reply_limits.py) are raised here: these
    runs check that each hostile message gets its own answer."""
    limits = {"MAILBOT_REPLY_LIMIT_HOUR": "1000", "MAILBOT_REPLY_LIMIT_DAY": "1000"}
    env = {**os.environ, **make_env(tmp, database_url, **{**limits, **extra_env})}
    box = MaildirMailbox(tmp / "var" / "inbox")
    subprocess.run(
        [sys.executable, "-m", "mailbot", "init"],
        env=env,
        cwd=tmp,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for _mid, raw in messages:
        box.append(raw)
        time.sleep(0.002)  # maildir names carry the time: keep the delivery order
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _POLL_MEASURED],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        code, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, stderr = -9, str(exc.stderr or "")
    seconds = time.monotonic() - start
    out = subprocess.run(
        [sys.executable, "-m", "mailbot", "messages", "--json"],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
    )
    rows = {str(r["message_id"]): r for r in json.loads(out.stdout or "[]")}
    order = [str(r["message_id"]) for r in json.loads(out.stdout or "[]")]
    parser = BytesParser(policy=policy.default)
    outbox = [
        parser.parsebytes(p.read_bytes())  # type: ignore[misc]
        for p in sorted((tmp / "var" / "outbox").glob("*.eml"))
    ]
    return Run(code, seconds, rows, order, len(box.list_new()), outbox, env, tmp, stderr)
