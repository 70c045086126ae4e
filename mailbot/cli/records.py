"""``legal-hold``, ``purge`` and ``erase``: the record's retention and destruction."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from mailbot.cli.common import ACTOR, Command, open_app


def add_parsers(sub: Any) -> dict[str, Command]:
    hold = sub.add_parser("legal-hold", help="suspend (on) or restore (off) a case's retention")
    hold.add_argument("ref")
    hold.add_argument("state", choices=("on", "off"))
    hold.add_argument("--why", required=True, help="the reason, kept encrypted and audited")
    purge = sub.add_parser("purge", help="destroy the cases and messages whose retention has passed")
    purge.add_argument("--dry-run", action="store_true", help="say what is due; change nothing")
    erase = sub.add_parser("erase", help="destroy one case now (a person's decision, audited)")
    erase.add_argument("ref")
    erase.add_argument("--reason", required=True,
                       help="why (e.g. the reference of the upheld request); kept encrypted")
    erase.add_argument("--by", default=None, help="who decided (default: the login name)")
    return {"legal-hold": cmd_legal_hold, "purge": cmd_purge, "erase": cmd_erase}


def cmd_legal_hold(args: argparse.Namespace) -> int:
    from mailbot.cases import store as case_store
    from mailbot.records.retention import set_legal_hold

    app = open_app(args)
    try:
        with app.db.session() as session:
            case = case_store.case_by_ref(session, args.ref, tombstone_ok=True)
            set_legal_hold(session, app.vault, case, app.clock.now(), on=args.state == "on",
                           why=args.why, actor=ACTOR)
            ref = case.ref
    finally:
        app.close()
    print(f"{ref}: legal hold {args.state}"
          + (" - it will not be destroyed while the hold is on" if args.state == "on" else ""))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from mailbot.records.purge import purge

    app = open_app(args)
    try:
        report = purge(app, dry_run=args.dry_run)
    finally:
        app.close()
    verb = "due" if report.dry_run else "destroyed"
    print(f"cases {verb}: {len(report.cases)}" + (f" ({', '.join(report.cases)})" if report.cases else ""))
    print(f"held messages {verb}: {report.held}; other messages {verb}: {report.other}")
    if not report.dry_run:
        print(f"data keys destroyed: {report.keys}")
        print(f"mailbox copies deleted: {report.mailbox_deleted}"
              + (f"; {report.mailbox_unknown} left alone (not in the database)"
                 if report.mailbox_unknown else ""))
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from mailbot.records.purge import erase

    app = open_app(args)
    try:
        case = erase(app, args.ref, reason=args.reason, actor=args.by or getpass.getuser())
    finally:
        app.close()
    print(f"{case.ref} erased: its data key is destroyed and its data deleted; the tombstone "
          "(reference, dates, agency, outcome) is kept")
    return 0
