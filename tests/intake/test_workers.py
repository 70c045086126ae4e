"""Two workers, one mailbox, one PostgreSQL database: every message handled once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email.parser import BytesParser
from pathlib import Path

import pytest
from helpers.bot import make_env, run_two_workers, simple_referral

from mailbot.mail.maildir import MaildirMailbox

TOTAL = 200


@pytest.mark.slow
def test_two_workers_200_messages_exactly_once(tmp_path: Path, pg_url: str, smtp_server) -> None:  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        **make_env(
            tmp_path, pg_url, MAILBOT_OUTBOUND_URL=smtp_server.url("smtp"), MAILBOT_LOG_LEVEL="WARNING"
        ),
    }
    box = MaildirMailbox(tmp_path / "var" / "inbox")
    for n in range(TOTAL):
        box.append(simple_referral(n, "worker"))
    summaries, rows = run_two_workers(tmp_path, env)
    handled_each = [int(out.split("handled ")[1].split()[0]) for out in summaries]
    assert all(n > 0 for n in handled_each), "both workers should have taken a share"
    assert len(rows) == TOTAL
    assert box.list_new() == []
    sent_ids = [BytesParser().parsebytes(r.data)["In-Reply-To"] for r in smtp_server.handler.received]
    assert len(sent_ids) == TOTAL
    assert len(set(sent_ids)) == TOTAL
    status = json.loads(
        subprocess.run(
            [sys.executable, "-m", "mailbot", "status", "--json"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert status["audit_chain_intact"] and status["outbox_backlog"] == 0
