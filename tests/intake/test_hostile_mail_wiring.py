"""Whole-bot hostile tests that pass once the lead wires issue 13 into the pipeline.

They fail on this branch on purpose (nothing here is xfail): each names the hook it
needs (see the report of the wt/hostile branch):

- the pipeline reads every message and its attachments through ``mailbot.sandbox``
  (``AttachmentSandbox.read_message`` / ``read_attachments``, limits from settings);
- the Auto-Submitted reason uses a fixed word, never the header's text;
- ``mailbot messages --json`` reads stored Message-IDs with the capped reader.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import make_env
from helpers import hostile
from helpers.hostile_cli import hostile_message, normal_referral, run_bot

from mailbot.mail.maildir import MaildirMailbox

_PEAK = (
    "import atexit, runpy, sys\n"
    "from pathlib import Path\n"
    "target = Path(sys.argv[1])\n"
    "def peak():\n"
    "    for line in Path('/proc/self/status').read_text().splitlines():\n"
    "        if line.startswith('VmHWM:'):\n"
    "            target.write_text(line.split()[1])\n"
    "atexit.register(peak)\n"
    "sys.argv = ['mailbot', 'poll', '--once']\n"
    "runpy.run_module('mailbot', run_name='__main__')\n")


def test_main_process_stays_under_200_mb_with_a_25_mb_attachment(tmp_path: Path) -> None:
    """Needs: intake reads messages with ``AttachmentSandbox.read_message``."""
    env = {**os.environ, **make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}")}
    subprocess.run([sys.executable, "-m", "mailbot", "init"], env=env, cwd=tmp_path,
                   check=True, capture_output=True)
    box = MaildirMailbox(tmp_path / "var" / "inbox")
    box.append(hostile.with_attachment("big.pdf", b"%PDF-1.4\n" + bytes(25 * hostile.MB)))
    box.append(normal_referral(0)[1])
    peak_file = tmp_path / "peak"
    subprocess.run([sys.executable, "-c", _PEAK, str(peak_file)], env=env, cwd=tmp_path,
                   check=True, capture_output=True, timeout=300)
    assert box.list_new() == []
    assert int(peak_file.read_text()) / 1024 < 200


def test_a_cpu_breach_in_the_pipeline_is_answered_as_too_complex(tmp_path: Path) -> None:
    """Needs: ``App.read_forms`` through ``AttachmentSandbox`` with
    ``SandboxLimits.from_settings`` (MAILBOT_SANDBOX_CPU_SECONDS)."""
    mid, raw = hostile_message("pdf_800_shared_pages", hostile.SHAPES["pdf_800_shared_pages"])
    os.environ["MAILBOT_SANDBOX_CPU_SECONDS"] = "1"
    try:
        result = run_bot(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
                         [(mid, raw), normal_referral(0)], timeout=120)
    finally:
        del os.environ["MAILBOT_SANDBOX_CPU_SECONDS"]
    assert result.rows[mid]["action"] == "reject_attachment"
    assert "too complex to read automatically" in result.reply_text(mid)
    # Decision to next decision, on whole-second stamps: the breach (1 s of CPU, more
    # of wall on a busy machine), a new worker, and the next message's reading.
    assert result.seconds_after(mid) < 15
    assert result.rows[normal_referral(0)[0]]["action"] == "accept"


def test_a_wall_clock_breach_in_the_pipeline_ends_in_time(tmp_path: Path) -> None:
    """Needs: the sandbox in the pipeline (MAILBOT_SANDBOX_WALL_SECONDS)."""
    mid, raw = hostile_message("zip_of_zips_10_odt", hostile.SHAPES["zip_of_zips_10_odt"])
    os.environ["MAILBOT_SANDBOX_WALL_SECONDS"] = "2"
    try:
        result = run_bot(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
                         [(mid, raw), normal_referral(0)], timeout=120)
    finally:
        del os.environ["MAILBOT_SANDBOX_WALL_SECONDS"]
    assert result.rows[mid]["action"] == "reject_attachment"
    assert "too complex to read automatically" in result.reply_text(mid)
    assert result.seconds_after(mid) < 2 + 5  # as above: includes the next message


def test_auto_submitted_reason_holds_no_header_text(tmp_path: Path) -> None:
    """Needs: handlers/automatic.py names a fixed word, not the header's value."""
    raw = hostile.message(headers=[("Auto-Submitted", "auto-generated" + "x" * 185 * 1024)])
    result = run_bot(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
                     [("<hostile.1@example.org>", raw)], timeout=120)
    row = result.rows["<hostile.1@example.org>"]
    assert row["action"] == "ignore_auto"
    assert "xxxx" not in str(row["reason"])


def test_messages_json_stays_fast_after_ids_full_of_comments(tmp_path: Path) -> None:
    """Needs: views read a stored Message-ID with ``mail.reader`` (capped), not
    ``policy.default``'s header parser."""
    messages = []
    for n in range(10):
        raw = hostile.message(message_id="(c)" * 8000 + f"<many.{n}@example.org>")
        messages.append((f"<many.{n}@example.org>", raw))
    result = run_bot(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", messages,
                     timeout=300)
    start = time.monotonic()
    listed = result.cli("messages", "--json", timeout=300)
    assert time.monotonic() - start < 5
    assert len(json.loads(listed.stdout)) == 10
