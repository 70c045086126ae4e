"""``check``, ``status`` and ``keys``: is the bot healthy, and its master key."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from mailbot.cli import text
from mailbot.cli.common import Command, actor, emit, open_app


def add_parsers(sub: Any) -> dict[str, Command]:
    check = sub.add_parser("check", help="settings, mailbox, relay, database and keys: one line each")
    check.add_argument("--json", action="store_true")
    status = sub.add_parser("status", help="health: last poll, backlog, quarantine, keys")
    status.add_argument("--json", action="store_true")
    keys = sub.add_parser("keys", help="master key management")
    ksub = keys.add_subparsers(dest="keys_command", required=True, parser_class=type(keys))
    ksub.add_parser(
        "rotate",
        help="new master key version; re-wrap every data key (in "
        "committed batches: a stopped rotation, run again, finishes); retire the "
        "versions no data key uses",
    )
    retire = ksub.add_parser(
        "retire", help="remove an old version from the key file, only when no data key uses it"
    )
    retire.add_argument("version", type=int)
    from mailbot.cli.backups import add_escrow_parser

    add_escrow_parser(ksub)
    return {"check": cmd_check, "status": cmd_status, "keys": cmd_keys}


def cmd_check(args: argparse.Namespace) -> int:
    from mailbot.cli.check import run_checks

    app = open_app(args)
    try:
        results = run_checks(app)
    finally:
        app.close()
    if getattr(args, "json", False):
        emit(args, [vars(r) for r in results], "")
    else:
        print("settings: ok - loaded" + (f" from {args.config}" if args.config else ""))
        for r in results:
            print(f"{r.part}: {'warning' if r.warning else 'ok' if r.ok else 'FAILED'} - {r.detail}")
    return 0 if all(r.ok for r in results) else 1


def cmd_status(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from mailbot.intake.attempts import Attempts
    from mailbot.store.audit import check_audit_chain
    from mailbot.store.models import InboundMessage, Outbox, PollState

    app = open_app(args)
    with app.db.session() as session:
        last = session.get(PollState, "last_poll")
        backlog = (
            session.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.state.in_(("queued", "sending")))
            )
            or 0
        )
        failed = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.state == "failed")) or 0
        held = (
            session.scalar(
                select(func.count())
                .select_from(InboundMessage)
                .where(InboundMessage.action == "quarantine", InboundMessage.hold_state == "pending")
            )
            or 0
        )
        chain = check_audit_chain(session)
    keys = app.keys.load()
    # A try still on record after the longest a message's reading may take, and a
    # minute for the rest, was cut short: the bot died in it.
    longest = timedelta(seconds=app.settings.sandbox_wall_seconds + 60)
    retried = Attempts(app.db, app.vault, app.clock).retried(longest)
    report = text.StatusReport(
        last_poll=last.value if last else None,
        outbox_backlog=backlog,
        outbox_failed=failed,
        quarantine=held,
        master_key_version=keys.current_version,
        audit_chain_intact=chain.intact,
        audit_entries=chain.entries,
        retried_messages=retried.messages,
        most_attempts=retried.most_attempts,
        max_attempts=app.settings.message_max_attempts,
    )
    emit(args, report.as_json(), text.status_text(report))
    return 1 if report.needs_person else 0


def cmd_keys(args: argparse.Namespace) -> int:
    if args.keys_command == "escrow":
        from mailbot.cli.backups import cmd_escrow

        return cmd_escrow(args)
    from mailbot.store import rotation

    app = open_app(args)
    try:
        if args.keys_command == "retire":
            left = rotation.retire(app.db, app.keys, args.version, app.clock.now(), actor(args))
            if left:
                print(
                    f"version {args.version} NOT retired: {left} data key"
                    f"{'s' if left != 1 else ''} still use it, and retiring it would lose "
                    f"{'their' if left != 1 else 'its'} cases for good; run mailbot keys "
                    "rotate to re-wrap them first"
                )
                return 1
            print(f"master key version {args.version} retired (no data key used it)")
            return 0
        result = rotation.rotate(app.db, app.keys, app.clock.now(), actor(args))
    finally:
        app.close()
    how = "rotated to" if result.added else "rotation finished: now on"
    print(
        f"master key {how} version {result.version}; {result.rewrapped} data keys re-wrapped"
        + (f"; version {', '.join(map(str, result.retired))} retired" if result.retired else "")
    )
    for version, left in sorted(result.still_used.items()):
        print(
            f"version {version} kept: {left} data key{'s' if left != 1 else ''} still use it "
            "(written during the rotation); run mailbot keys rotate again"
        )
    return 1 if result.still_used else 0
