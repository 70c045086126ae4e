"""The command line: a thin layer over the app (``main(argv) -> int``).

Exit codes (INTERFACE.md): 0 done; 2 a usage or configuration error, told in one line
naming the setting at fault; 1 anything else, in one line (a traceback only with
``--debug``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mailbot.cli import commands
from mailbot.cli import sprg as sprg_cli
from mailbot.cli import web as web_cli
from mailbot.errors import ConfigError, MailbotError, NotFound, UsageError
from mailbot.intake.handlers.base import STATUSES


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mailbot", description="CSCP Case of Concern intake bot")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("init", help="create var/, the database schema and the master key")
    poll = sub.add_parser("poll", help="handle the mailbox and send replies")
    poll.add_argument("--once", action="store_true", help="one pass, then exit")
    sub.add_parser("demo", help="run the bundled sample referrals through the bot")
    cases = sub.add_parser("cases", help="the CSCP queue")
    cases.add_argument("--status", choices=STATUSES, help="only cases with this status")
    cases.add_argument("--due", action="store_true",
                       help="decided cases whose final report is due or overdue")
    cases.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="one case, decrypted (audited)")
    show.add_argument("ref")
    show.add_argument("--json", action="store_true")
    msgs = sub.add_parser("messages", help="every inbound message and how it was handled")
    msgs.add_argument("--json", action="store_true")
    quarantine = sub.add_parser("quarantine", help="messages held for a person")
    quarantine.add_argument("--json", action="store_true")
    qsub = quarantine.add_subparsers(dest="decision", parser_class=_Parser)
    release = qsub.add_parser("release", help="handle a held message as if trusted")
    release.add_argument("id")
    reject = qsub.add_parser("reject", help="file a held message with a reason")
    reject.add_argument("id")
    reject.add_argument("--reason", default="rejected by the team")
    parse = sub.add_parser("parse", help="read one form file and show what was found")
    parse.add_argument("file", type=Path)
    parse.add_argument("--json", action="store_true")
    close = sub.add_parser("close", help="close a case with a reason")
    close.add_argument("ref")
    close.add_argument("--reason", required=True)
    edit = sub.add_parser("edit", help="correct one field of a case (a new version, audited)")
    edit.add_argument("ref")
    edit.add_argument("field", help="a key of forms/FIELDS.md, e.g. child.dob or household.0.name")
    edit.add_argument("value")
    edit.add_argument("--why", help="the reason, kept with the version")
    edit.add_argument("--by", default=None, help="who made the change (default: the login name)")
    check = sub.add_parser("check", help="settings, mailbox, relay, database and keys: one line each")
    check.add_argument("--json", action="store_true")
    status = sub.add_parser("status", help="health: last poll, backlog, quarantine, keys")
    status.add_argument("--json", action="store_true")
    keys = sub.add_parser("keys", help="master key management")
    ksub = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    ksub.add_parser("rotate", help="new master key version; re-wrap every data key")
    for module in EXTENSIONS:
        HANDLERS.update(module.add_parsers(sub))
    for name in ("schedule", "agenda", "outcome", "serve", "users"):
        if name not in HANDLERS:
            later = sub.add_parser(name, help="(not built yet)")
            later.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


#: Command groups that live with their own feature; each adds its sub-parsers and
#: returns {command name: handler}.
EXTENSIONS = (sprg_cli, web_cli)

HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "init": commands.cmd_init,
    "poll": commands.cmd_poll,
    "demo": commands.cmd_demo,
    "cases": commands.cmd_cases,
    "show": commands.cmd_show,
    "messages": commands.cmd_messages,
    "quarantine": commands.cmd_quarantine,
    "parse": commands.cmd_parse,
    "close": commands.cmd_close,
    "edit": commands.cmd_edit,
    "check": commands.cmd_check,
    "status": commands.cmd_status,
    "keys": commands.cmd_keys,
}


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = build_parser().parse_args(args_list)
        handler = HANDLERS.get(args.command)
        if handler is None:
            raise UsageError(f"'{args.command}' is not built yet (see the open issues)")
        return handler(args)
    except (ConfigError, UsageError) as exc:
        if debug:
            raise
        print(f"mailbot: {exc}", file=sys.stderr)
        return 2
    except NotFound as exc:
        print(f"mailbot: {exc}", file=sys.stderr)
        return 1
    except MailbotError as exc:
        if debug:
            raise
        print(f"mailbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last resort: one line, no traceback
        # (a traceback could show form values); --debug re-raises for developers.
        if debug:
            raise
        print(f"mailbot: unexpected error ({type(exc).__name__}); run again with --debug",
              file=sys.stderr)
        return 1
