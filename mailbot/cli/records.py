"""``legal-hold``, ``purge``, ``erase`` and ``sar``: the record's retention, destruction
and subject access."""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mailbot.cli.common import Command, actor, open_app
from mailbot.errors import UsageError


def add_parsers(sub: Any) -> dict[str, Command]:
    hold = sub.add_parser("legal-hold", help="suspend (on) or restore (off) a case's retention")
    hold.add_argument("ref")
    hold.add_argument("state", choices=("on", "off"))
    hold.add_argument("--why", required=True, help="the reason, kept encrypted and audited")
    purge = sub.add_parser("purge", help="destroy the cases and messages whose retention has passed")
    purge.add_argument("--dry-run", action="store_true", help="say what is due; change nothing")
    erase = sub.add_parser("erase", help="destroy one case now (a person's decision, audited)")
    erase.add_argument("ref")
    erase.add_argument(
        "--reason", required=True, help="why (e.g. the reference of the upheld request); kept encrypted"
    )
    erase.add_argument("--by", default=None, help="who decided (default: the login name)")
    sar = sub.add_parser(
        "sar",
        help="subject access: every case and message about a person, "
        "as one .docx with other people's data marked (audited)",
    )
    sar.add_argument("--name", required=True, help="the person's full name")
    sar.add_argument("--dob", required=True, type=cli_date, help="date of birth (DD/MM/YYYY or ISO)")
    sar.add_argument(
        "--received", type=cli_date, default=None, help="the day the request was received (default: today)"
    )
    sar.add_argument("--out", type=Path, default=None, help="folder (default var/sar)")
    sub.add_parser(
        "dpia",
        help="the DPIA's settings-dependent parts: retention, where data "
        "lives, who receives what, who can see the cases",
    )
    return {
        "legal-hold": cmd_legal_hold,
        "purge": cmd_purge,
        "erase": cmd_erase,
        "sar": cmd_sar,
        "dpia": cmd_dpia,
    }


def cmd_dpia(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from mailbot.records.dpia import dpia_text
    from mailbot.store.models import WebUser

    app = open_app(args)
    try:
        with app.db.session() as session:
            counts = {
                role: int(n)
                for role, n in session.execute(
                    select(WebUser.role, func.count())
                    .where(WebUser.disabled.is_(False))
                    .group_by(WebUser.role)
                )
            }
    finally:
        app.close()
    print(dpia_text(app.settings, counts), end="")
    return 0


def cli_date(value: str) -> date:
    """``DD/MM/YYYY`` or ISO, as INTERFACE.md allows on the command line."""
    for parse in (date.fromisoformat, lambda v: datetime.strptime(v, "%d/%m/%Y").date()):
        try:
            return parse(value.strip())
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"'{value}' is not a date (DD/MM/YYYY or YYYY-MM-DD)")


def cmd_sar(args: argparse.Namespace) -> int:
    from mailbot.clock import london
    from mailbot.records.sar import Subject, add_month, search
    from mailbot.records.sar_docx import write_pack
    from mailbot.store.audit import audit

    if not args.name.strip():
        raise UsageError("--name must not be empty")
    app = open_app(args)
    try:
        now = app.clock.now()
        received = args.received or london(now).date()
        due = add_month(received)
        subject = Subject(args.name.strip(), args.dob)
        with app.db.session() as session:
            result = search(session, app.vault, subject)
            path = write_pack(result, subject, received, due, now, args.out or app.settings.var_dir / "sar")
            # The name searched for is personal data: the audit keeps counts and refs only.
            audit(
                session,
                now,
                actor(args),
                "sar.produced",
                detail=f"{len(result.cases)} case(s) ({', '.join(c.ref for c in result.cases)}), "
                f"{len(result.other_messages)} other message(s); due {due.isoformat()}",
            )
    finally:
        app.close()
    print(
        f"found {len(result.cases)} case(s)"
        + (
            f" ({', '.join(c.ref + ('?' if c.certainty == 'possible' else '') for c in result.cases)})"
            if result.cases
            else ""
        )
        + f" and {len(result.other_messages)} other message(s); searched {result.searched_cases} "
        f"case(s) and {result.searched_messages} message(s)"
    )
    print(f"written: {path} (marked items to review before disclosure)")
    print(f"request received {received:%d/%m/%Y}: the response is due by {due:%d/%m/%Y} (one month)")
    return 0


def cmd_legal_hold(args: argparse.Namespace) -> int:
    from mailbot.cases import store as case_store
    from mailbot.records.retention import set_legal_hold

    app = open_app(args)
    try:
        with app.db.session() as session:
            case = case_store.case_by_ref(session, args.ref, tombstone_ok=True)
            set_legal_hold(
                session,
                app.vault,
                case,
                app.clock.now(),
                on=args.state == "on",
                why=args.why,
                actor=actor(args),
            )
            ref = case.ref
    finally:
        app.close()
    print(
        f"{ref}: legal hold {args.state}"
        + (" - it will not be destroyed while the hold is on" if args.state == "on" else "")
    )
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
        print(
            f"mailbox copies deleted: {report.mailbox_deleted}"
            + (
                f"; {report.mailbox_unknown} left alone (not in the database)"
                if report.mailbox_unknown
                else ""
            )
        )
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from mailbot.records.purge import erase

    app = open_app(args)
    try:
        case = erase(app, args.ref, reason=args.reason, actor=args.by or actor(args))
    finally:
        app.close()
    print(
        f"{case.ref} erased: its data key is destroyed and its data deleted; the tombstone "
        "(reference, dates, agency, outcome) is kept"
    )
    return 0
