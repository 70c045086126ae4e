"""``init``, ``poll``, ``demo`` and ``parse``: getting mail in."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mailbot.cli import text
from mailbot.cli.common import Command, load, open_app
from mailbot.errors import UsageError
from mailbot.safetext import escape_lines, json_escape_controls


def add_parsers(sub: Any) -> dict[str, Command]:
    sub.add_parser("init", help="create var/, the database schema and the master key")
    poll = sub.add_parser("poll", help="handle the mailbox and send replies")
    poll.add_argument("--once", action="store_true", help="one pass, then exit")
    sub.add_parser("demo", help="run the bundled sample referrals through the bot")
    parse = sub.add_parser("parse", help="read one form file and show what was found")
    parse.add_argument("file", type=Path)
    parse.add_argument("--json", action="store_true")
    return {"init": cmd_init, "poll": cmd_poll, "demo": cmd_demo, "parse": cmd_parse}


def cmd_init(args: argparse.Namespace) -> int:
    from mailbot.app import build_app

    settings = load(args)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    created = not app.keys.exists()
    app.prepare()
    app.mailbox.ensure_folder("Processed")
    print(f"database ready: {settings.database_url.split('@')[-1]}")
    print(f"master key {'created' if created else 'kept'}: {settings.key_file}")
    if created:  # said once: the moment the only copy of the key comes into being
        from mailbot.cli.backups import ESCROW_NOTICE

        print(ESCROW_NOTICE.format(path=settings.key_file), end="")
    app.close()
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    from mailbot.intake.poller import Poller

    app = open_app(args)
    poller = Poller(app)
    try:
        if args.once:
            result = poller.cycle()
            print(text.cycle_summary(result))
            if result.left:
                # Never silent: a message left behind is tried again, and held after
                # mailbox.max_attempts tries; ``mailbot status`` counts it meanwhile.
                print(f"mailbot: {text.left_in_inbox(result)}", file=sys.stderr)
                return 1
        else:
            poller.run_forever()
    finally:
        app.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mailbot.cli.demo import run_demo

    app = open_app(args, quiet=True, create=True)
    try:
        run_demo(app, sys.stdout)
    finally:
        app.close()
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from mailbot.clock import SystemClock, london
    from mailbot.errors import FormError
    from mailbot.forms import parse_json, parse_report, read_form_bytes

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from exc
    try:
        # Two-digit years count back from the form's own referral date, else from today.
        this_year = london(SystemClock().now()).year
        result: Any = read_form_bytes(data, args.file.name, reference_year=this_year)
    except FormError as exc:
        result = exc
    # What a file says goes to a terminal escaped (a form's text may carry ESC or CR).
    if args.json:
        dumped = json.dumps(parse_json(result), indent=2, ensure_ascii=False)
        sys.stdout.write(json_escape_controls(dumped) + "\n")
    else:
        sys.stdout.write(escape_lines(parse_report(result)))
    return 1 if isinstance(result, FormError) else 0
