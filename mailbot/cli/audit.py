"""``audit verify`` and ``audit list``: is the trail intact, and who read or changed what."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from mailbot.cli.common import Command, emit, open_app
from mailbot.cli.text import table
from mailbot.clock import day_start, read_day, show_time
from mailbot.errors import UsageError


def add_parsers(sub: Any) -> dict[str, Command]:
    parser = sub.add_parser("audit", help="the audit trail: check it, or list who did what")
    asub = parser.add_subparsers(dest="audit_command", required=True, parser_class=type(parser))
    verify = asub.add_parser("verify", help="check the keyed hash chain; exit 1 if broken")
    verify.add_argument("--json", action="store_true")
    listing = asub.add_parser("list", help="the entries, oldest first, filtered")
    listing.add_argument("--ref", help="only entries about this case (COC-YYYY-NNNN)")
    listing.add_argument("--user", help="only entries by this person (workspace name or login)")
    listing.add_argument(
        "--since",
        type=day_given,
        metavar="DATE",
        help="only entries from this day on (DD/MM/YYYY or YYYY-MM-DD)",
    )
    listing.add_argument("--json", action="store_true")
    return {"audit": cmd_audit}


def day_given(text: str) -> date:
    """A date on the command line: ``DD/MM/YYYY`` or ISO."""
    try:
        return read_day(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (DD/MM/YYYY or YYYY-MM-DD)") from None


def cmd_audit(args: argparse.Namespace) -> int:
    app = open_app(args)
    try:
        if args.audit_command == "verify":
            return _verify(app, args)
        return _list(app, args)
    finally:
        app.close()


def _verify(app: Any, args: argparse.Namespace) -> int:
    from mailbot.store.audit import check_audit_chain

    with app.db.session() as session:
        report = check_audit_chain(session)
    if report.intact:
        words = f"the audit trail is intact ({report.entries} entries)\n"
    else:
        where = f" at entry {report.broken_at}" if report.broken_at is not None else ""
        words = f"the audit trail is BROKEN{where}: {report.problem} ({report.entries} entries checked)\n"
    emit(
        args,
        {
            "intact": report.intact,
            "entries": report.entries,
            "broken_at": report.broken_at,
            "problem": report.problem or None,
        },
        words,
    )
    return 0 if report.intact else 1


def _list(app: Any, args: argparse.Namespace) -> int:
    from mailbot.store.audit_log import AuditFilter, list_entries

    if args.ref is not None and not args.ref.strip():
        raise UsageError("--ref: give a case reference (COC-YYYY-NNNN)")
    flt = AuditFilter(ref=args.ref, user=args.user, since=day_start(args.since) if args.since else None)
    with app.db.session() as session:
        entries = list_entries(session, flt, newest_first=False)
    rows = [[show_time(e.at), e.actor, e.what, e.ref or "-", e.detail or "-"] for e in entries]
    words = table(["When", "Who", "What", "Case", "Detail"], rows) if rows else "No entries.\n"
    emit(args, [e.as_json() for e in entries], words)
    return 0
