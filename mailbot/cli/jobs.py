"""``daily``: the working morning's reminders and team digest, for a timer."""

from __future__ import annotations

import argparse
from typing import Any

from mailbot.cli.common import Command, open_app


def add_parsers(sub: Any) -> dict[str, Command]:
    sub.add_parser("daily", help="the morning's reminders and team digest, if due now")
    return {"daily": cmd_daily}


def cmd_daily(args: argparse.Namespace) -> int:
    from mailbot.jobs.morning import morning_jobs

    app = open_app(args)
    try:
        result = morning_jobs(app)
        if result is None:
            print("nothing due: not a working morning, or already done today")
            return 0
        app.drainer.drain()
    finally:
        app.close()
    print(
        f"reminders sent: {len(result.chased.reminded)}; flagged to the team: "
        f"{len(result.chased.flagged)}; digest {'sent' if result.digest_sent else 'not sent '}"
        f"{'' if result.digest_sent else '(no team address)'}"
    )
    return 0
