"""``cases``, ``show``, ``messages``, ``quarantine``, ``close`` and ``edit``: the casework."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from mailbot.cases.status import CaseStatus
from mailbot.cli import text
from mailbot.cli.common import Command, actor, emit, open_app
from mailbot.clock import london
from mailbot.errors import NotFound, UsageError

# The work's modules are imported by each command (see mailbot.cli.common: start-up time).


def status_word(value: str) -> CaseStatus:
    """``--status`` takes the code (``scheduled``) or the words shown (``on an agenda``)."""
    try:
        return CaseStatus.parse(value)
    except ValueError:
        choices = "; ".join(f"{s.value} ({s.label})" for s in CaseStatus)
        raise argparse.ArgumentTypeError(f"'{value}' is not a status: {choices}") from None


def add_parsers(sub: Any) -> dict[str, Command]:
    cases = sub.add_parser("cases", help="the CSCP queue")
    cases.add_argument(
        "--status",
        type=status_word,
        metavar="STATUS",
        help="only cases with this status (the code, or the words shown)",
    )
    cases.add_argument(
        "--due", action="store_true", help="decided cases whose final report is due or overdue"
    )
    cases.add_argument(
        "--search",
        metavar="TEXT",
        help="only cases matching TEXT: a reference, any part of the child's "
        "name, a date of birth, the referrer's name or e-mail, an agency, an "
        "NHS/CRS/PNC number (audited)",
    )
    cases.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="one case, decrypted (audited)")
    show.add_argument("ref")
    show.add_argument("--json", action="store_true")
    msgs = sub.add_parser("messages", help="every inbound message and how it was handled")
    msgs.add_argument("--json", action="store_true")
    quarantine = sub.add_parser("quarantine", help="messages held for a person")
    quarantine.add_argument("--json", action="store_true")
    qsub = quarantine.add_subparsers(dest="decision", parser_class=type(quarantine))
    release = qsub.add_parser(
        "release",
        help="handle a held message as if trusted (for a held emailed SPRG decision: confirm and record it)",
    )
    release.add_argument("id")
    release.add_argument(
        "--force",
        action="store_true",
        help="confirm an emailed SPRG decision although its meeting is still "
        "to come (the referrer is told now)",
    )
    reject = qsub.add_parser("reject", help="file a held message with a reason")
    reject.add_argument("id")
    reject.add_argument("--reason", default="rejected by the team")
    close = sub.add_parser("close", help="close a case with a reason")
    close.add_argument("ref")
    close.add_argument("--reason", required=True)
    edit = sub.add_parser("edit", help="correct one field of a case (a new version, audited)")
    edit.add_argument("ref")
    edit.add_argument("field", help="a key of forms/FIELDS.md, e.g. child.dob or household.0.name")
    edit.add_argument("value")
    edit.add_argument("--why", help="the reason, kept with the version")
    edit.add_argument("--by", default=None, help="who made the change (default: the login name)")
    return {
        "cases": cmd_cases,
        "show": cmd_show,
        "messages": cmd_messages,
        "quarantine": cmd_quarantine,
        "close": cmd_close,
        "edit": cmd_edit,
    }


def cmd_cases(args: argparse.Namespace) -> int:
    from mailbot.cases import queue as case_queue

    app = open_app(args)
    with app.db.session() as session:
        due_by = None
        if getattr(args, "due", False):  # final reports due within the reminder window, or late
            due_by = london(app.clock.now()).date() + timedelta(days=app.settings.final_report_reminder_days)
        items = case_queue.queue(session, app.vault, app.clock.now(), args.status, due_by)
        if getattr(args, "search", None):
            from mailbot.cases.search import SearchIndex
            from mailbot.store.audit import audit

            found = set(SearchIndex().search(session, app.vault, args.search))
            items = [i for i in items if i.ref in found]
            audit(session, app.clock.now(), actor(args), "cases.searched", detail=f"{len(items)} found")
        if getattr(args, "json", False):  # the JSON carries the referrers' addresses
            from mailbot.store.audit import audit_many
            from mailbot.store.audit_log import case_entries

            audit_many(
                session,
                app.clock.now(),
                actor(args),
                case_entries(session, [i.ref for i in items], "case.listed", "cases --json"),
            )
    emit(args, [i.as_json() for i in items], text.queue_table(items))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from mailbot.cases import store as case_store
    from mailbot.cases import views
    from mailbot.store.audit import audit

    app = open_app(args)
    with app.db.session() as session:
        item = views.show(session, app.vault, args.ref, from_address=app.settings.mail_from)
        case = case_store.case_by_ref(session, args.ref)
        audit(session, app.clock.now(), actor(args), "case.viewed", case_id=case.id)
    emit(args, item.as_json(), text.case_text(item))
    return 0


def cmd_messages(args: argparse.Namespace) -> int:
    from mailbot.cases import views
    from mailbot.store.audit import Entry, audit_many

    app = open_app(args)
    with app.db.session() as session:
        items = views.messages(session, app.vault)
        if getattr(args, "json", False):  # the JSON carries the senders' addresses
            audit_many(
                session,
                app.clock.now(),
                actor(args),
                [Entry("message.listed", message_id=i.id, detail="messages --json") for i in items],
            )
    emit(args, [i.as_json() for i in items], text.messages_table(items))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from mailbot.cases import views
    from mailbot.store.audit import Entry, audit_many

    app = open_app(args)
    if args.decision == "release":
        from mailbot.intake.release import release

        refs = release(app, args.id, actor=actor(args), force=args.force)
        print(
            f"released {args.id}"
            + (f": {', '.join(refs)}" if refs else "")
            + ("; SPRG decision recorded, the referrer is told" if refs.decision else "")
        )
        app.drainer.drain()
        return 0
    if args.decision == "reject":
        from mailbot.intake.release import reject

        with app.db.session() as session:
            reject(session, app.vault, app.clock.now(), args.id, actor=actor(args), reason=args.reason)
        print(f"rejected {args.id}")
        return 0
    with app.db.session() as session:
        items = views.quarantine(session, app.vault)
        audit_many(
            session,
            app.clock.now(),
            actor(args),
            [Entry("quarantine.viewed", message_id=i.id, detail="mailbot quarantine") for i in items],
        )
    emit(args, [i.as_json() for i in items], text.quarantine_table(items))
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    from mailbot.cases import store as case_store
    from mailbot.cases.editing import close_case
    from mailbot.records.retention import add_years

    app = open_app(args)
    with app.db.session() as session:
        case = case_store.case_by_ref(session, args.ref)
        close_case(session, app.vault, case, app.clock.now(), user=actor(args), reason=args.reason)
        assert case.closed_at is not None
        case.retain_until = add_years(case.closed_at, app.settings.retention_years)
    print(
        f"{args.ref} closed; kept until {case.retain_until:%d/%m/%Y} "
        f"(retention.years_after_closure = {app.settings.retention_years})"
    )
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    from mailbot.cases import store as case_store
    from mailbot.cases.editing import edit_field, editable

    try:
        editable(args.field)
    except NotFound as exc:
        raise UsageError(
            f"{args.field}: not a field a person can edit (keys as in "
            "forms/FIELDS.md, e.g. child.dob or household.0.name)"
        ) from exc
    app = open_app(args)
    who = args.by or actor(args)
    with app.db.session() as session:
        case = case_store.case_by_ref(session, args.ref)
        edit_field(
            session,
            app.vault,
            case,
            app.clock.now(),
            args.field,
            args.value,
            user=who,
            reason=args.why or "entered with mailbot edit",
        )
        status, version, missing = case.status, case.current_version, case.missing_required
    print(
        f"{args.ref}: {args.field} updated (version {version}, status {status})"
        + (f"; still missing: {', '.join(missing)}" if missing else "")
    )
    return 0
