"""What each command does, in terms of the app. Output formatting lives in ``textout``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from mailbot.app import App, build_app
from mailbot.cases import store as case_store
from mailbot.cases import views
from mailbot.cli import text as textout
from mailbot.clock import london
from mailbot.errors import MailbotError, NotFound, UsageError
from mailbot.logs import setup_logging
from mailbot.settings import Settings, load_settings
from mailbot.store.models import InboundMessage, Outbox, PollState

ACTOR = "cli"


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _app(args: argparse.Namespace, *, quiet: bool = False) -> App:
    settings = _settings(args)
    # The demo talks to a person: its own summary replaces the INFO log lines.
    setup_logging("WARNING" if quiet and "MAILBOT_LOG_LEVEL" not in os.environ
                  else settings.log_level)
    app = build_app(settings)
    app.prepare()
    return app


def _emit(args: argparse.Namespace, value: Any, text: str) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(text)


def cmd_init(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    created = not app.keys.exists()
    app.prepare()
    app.mailbox.ensure_folder("Processed")
    print(f"database ready: {settings.database_url.split('@')[-1]}")
    print(f"master key {'created' if created else 'kept'}: {settings.key_file}")
    app.close()
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    from mailbot.intake.poller import Poller

    app = _app(args)
    poller = Poller(app)
    try:
        if args.once:
            result = poller.cycle()
            print(textout.cycle_summary(result))
        else:
            poller.run_forever()
    finally:
        app.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mailbot.cli.demo import run_demo

    app = _app(args, quiet=True)
    try:
        run_demo(app, sys.stdout)
    finally:
        app.close()
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    app = _app(args)
    with app.db.session() as session:
        due_by = None
        if getattr(args, "due", False):  # final reports due within the reminder window, or late
            due_by = (london(app.clock.now()).date()
                      + timedelta(days=app.settings.final_report_reminder_days))
        items = views.queue(session, app.vault, app.clock.now(), args.status, due_by)
    _emit(args, items, textout.queue_table(items))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    app = _app(args)
    with app.db.session() as session:
        item = views.show(session, app.vault, args.ref, from_address=app.settings.mail_from)
        case = case_store.case_by_ref(session, args.ref)
        case_store.audit(session, app.clock.now(), ACTOR, "case.viewed", case_id=case.id)
    _emit(args, item, textout.case_text(item))
    return 0


def cmd_messages(args: argparse.Namespace) -> int:
    app = _app(args)
    with app.db.session() as session:
        items = views.messages(session, app.vault)
    _emit(args, items, textout.messages_table(items))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    app = _app(args)
    if args.decision == "release":
        from mailbot.intake.release import release

        refs = release(app, args.id, actor=ACTOR)
        print(f"released {args.id}" + (f": {', '.join(refs)}" if refs else ""))
        app.drainer.drain()
        return 0
    if args.decision == "reject":
        from mailbot.intake.release import reject

        with app.db.session() as session:
            reject(session, app.vault, app.clock.now(), args.id, actor=ACTOR, reason=args.reason)
        print(f"rejected {args.id}")
        return 0
    with app.db.session() as session:
        items = views.quarantine(session, app.vault)
    _emit(args, items, textout.quarantine_table(items))
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
    if args.json:
        sys.stdout.write(json.dumps(parse_json(result), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(parse_report(result))
    return 1 if isinstance(result, FormError) else 0


def cmd_close(args: argparse.Namespace) -> int:
    from mailbot.cases.editing import close_case

    app = _app(args)
    with app.db.session() as session:
        case = case_store.case_by_ref(session, args.ref)
        close_case(session, app.vault, case, app.clock.now(), user=ACTOR, reason=args.reason)
    print(f"{args.ref} closed")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    import getpass

    from mailbot.cases.editing import edit_field, editable

    try:
        editable(args.field)
    except NotFound as exc:
        raise UsageError(f"{args.field}: not a field a person can edit (keys as in "
                         "forms/FIELDS.md, e.g. child.dob or household.0.name)") from exc
    app = _app(args)
    actor = args.by or getpass.getuser()
    with app.db.session() as session:
        case = case_store.case_by_ref(session, args.ref)
        edit_field(session, app.vault, case, app.clock.now(), args.field, args.value,
                   user=actor, reason=args.why or "entered with mailbot edit")
        status, version, missing = case.status, case.current_version, case.missing_required
    print(f"{args.ref}: {args.field} updated (version {version}, status {status})"
          + (f"; still missing: {', '.join(missing)}" if missing else ""))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from mailbot.cli.check import run_checks

    app = _app(args)
    try:
        results = run_checks(app)
    finally:
        app.close()
    if getattr(args, "json", False):
        _emit(args, [vars(r) for r in results], "")
    else:
        print("settings: ok - loaded" + (f" from {args.config}" if args.config else ""))
        for r in results:
            print(f"{r.part}: {'ok' if r.ok else 'FAILED'} - {r.detail}")
    return 0 if all(r.ok for r in results) else 1


def cmd_status(args: argparse.Namespace) -> int:
    app = _app(args)
    with app.db.session() as session:
        last = session.get(PollState, "last_poll")
        backlog = session.scalar(select(func.count()).select_from(Outbox)
                                 .where(Outbox.state.in_(("queued", "sending")))) or 0
        failed = session.scalar(select(func.count()).select_from(Outbox)
                                .where(Outbox.state == "failed")) or 0
        held = session.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.action == "quarantine", InboundMessage.hold_state == "pending")) or 0
        chain = case_store.verify_audit_chain(session)
    keys = app.keys.load()
    report = {"last_poll": last.value if last else None, "outbox_backlog": backlog,
              "outbox_failed": failed, "quarantine": held,
              "master_key_version": keys.current_version, "audit_chain_intact": chain}
    needs_person = bool(failed or held or not chain)
    report["needs_person"] = needs_person
    _emit(args, report, textout.status_text(report))
    return 1 if needs_person else 0


def cmd_keys(args: argparse.Namespace) -> int:
    app = _app(args)
    old = app.keys.load().current_version
    app.keys.add_version()
    with app.db.session() as session:
        count = app.vault.rewrap_all(session)
        case_store.audit(session, app.clock.now(), ACTOR, "keys.rotated",
                         detail=f"v{old} -> v{old + 1}, {count} data keys")
    app.keys.retire(old)
    print(f"master key rotated to version {old + 1}; {count} data keys re-wrapped; "
          f"version {old} retired")
    return 0


__all__ = ["MailbotError"]
