"""``schedule``, ``agenda`` and ``outcome``: the SPRG's meetings and decisions.

``schedule REF --meeting D | --hold``, ``agenda --meeting D [--out DIR] [--send]``,
``outcome REF [--single Y|N] ... [--chair T]``. Each is a thin layer: the work is in
``scheduling``, ``pack``, ``digest`` and ``decisions``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mailbot.cli.common import Command, actor, open_app
from mailbot.clock import london, long_date
from mailbot.errors import UsageError

# The work's modules are imported by each command (see mailbot.cli.common: start-up time):
# the agenda pack's python-docx and lxml are for `agenda` alone.


def add_parsers(sub: Any) -> dict[str, Command]:
    """Add this feature's sub-commands to ``sub``; return {name: handler}."""
    schedule = sub.add_parser("schedule", help="move a case to an SPRG meeting, or hold it back")
    schedule.add_argument("ref")
    which = schedule.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--meeting", metavar="DATE", help="a meeting in the calendar (DD/MM/YYYY or YYYY-MM-DD)"
    )
    which.add_argument("--hold", action="store_true", help="keep it off every agenda")

    agenda = sub.add_parser("agenda", help="the agenda pack of a meeting; --send: the digest")
    agenda.add_argument(
        "--meeting", metavar="DATE", required=True, help="the meeting (DD/MM/YYYY or YYYY-MM-DD)"
    )
    agenda.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where agenda.docx (and agenda.pdf) go (default var/sprg/DATE)",
    )
    agenda.add_argument("--send", action="store_true", help="send the pre-meeting digest to the SPRG members")

    outcome = sub.add_parser("outcome", help="record the SPRG decision on a case")
    outcome.add_argument("ref")
    yn = {"type": _yes_no, "metavar": "Y|N"}
    outcome.add_argument("--single", **yn, help="single agency Learning Inquiry")
    outcome.add_argument("--single-agencies", metavar="T")
    outcome.add_argument("--single-grounds", metavar="T")
    outcome.add_argument("--multi", **yn, help="multi-agency Learning Inquiry")
    outcome.add_argument("--multi-agencies", metavar="T")
    outcome.add_argument("--multi-grounds", metavar="T")
    outcome.add_argument("--methodology", metavar="T")
    outcome.add_argument("--final-report-date", metavar="D")
    outcome.add_argument("--other-actions", metavar="T")
    outcome.add_argument("--meeting-date", metavar="D", help="default: the meeting the case is scheduled to")
    outcome.add_argument("--chair", metavar="T", help="default: MAILBOT_SPRG_CHAIR")
    outcome.add_argument(
        "--force",
        action="store_true",
        help="record it although its meeting is still to come (the referrer is told now)",
    )
    return {"schedule": cmd_schedule, "agenda": cmd_agenda, "outcome": cmd_outcome}


def _yes_no(text: str) -> str:
    word = text.strip().upper()
    if word in ("Y", "YES"):
        return "Y"
    if word in ("N", "NO"):
        return "N"
    raise argparse.ArgumentTypeError(f"expected Y or N, got {text!r}")


def _app(args: argparse.Namespace, given: Any) -> tuple[Any, bool]:
    """The app a command works on: the one given (tests pass one with a fixed clock), or
    one built from the settings the way every other command builds it."""
    if given is not None:
        return given, False
    return open_app(args), True


def _case(session: Any, ref: str) -> Any:
    from mailbot.cases import store as case_store

    return case_store.case_by_ref(session, ref)  # NotFound: exit 1, as `show` does


def cmd_schedule(args: argparse.Namespace, app: Any = None) -> int:
    from mailbot.sprg import scheduling
    from mailbot.sprg.calendar import parse_day

    app, own = _app(args, app)
    now = app.clock.now()
    try:
        with app.db.session() as session:
            if args.hold:
                case = scheduling.hold(session, now, args.ref, actor(args))
                message = f"{case.ref} held back from the SPRG agenda"
            else:
                meeting = parse_day(args.meeting, "--meeting")
                case = scheduling.move(session, app.settings, now, args.ref, meeting, actor(args))
                message = f"{case.ref} scheduled to the SPRG meeting on {long_date(meeting)}"
    finally:
        if own:
            app.close()
    print(message)
    return 0


def cmd_agenda(args: argparse.Namespace, app: Any = None) -> int:
    app, own = _app(args, app)
    try:
        return _agenda(app, args)
    finally:
        if own:
            app.close()


def _agenda(app: Any, args: argparse.Namespace) -> int:
    from mailbot.sprg import meeting_digest as digest
    from mailbot.sprg import scheduling
    from mailbot.sprg.calendar import parse_day
    from mailbot.sprg.pack import build_pack, write_pack
    from mailbot.store.audit import audit_many
    from mailbot.store.audit_log import case_entries

    meeting = parse_day(args.meeting, "--meeting")
    now = app.clock.now()
    with app.db.session() as session:
        scheduling.auto_schedule(session, app.settings, now)
        cal = scheduling.calendar_of(app.settings, session)
    with app.db.session() as session:
        cases = scheduling.cases_of_meeting(session, app.vault, meeting)
        if not cases and not cal.is_meeting(meeting):
            raise UsageError(
                f"--meeting: {meeting.isoformat()} is not an SPRG meeting date "
                f"and no case is scheduled to it (meetings: {cal.describe()})"
            )
        lines = digest.digest_lines(cases, meeting)
        written: list[Path] = []
        if args.out is not None or not args.send:
            out = args.out or app.settings.var_dir / "sprg" / meeting.isoformat()
            data = build_pack(meeting, cases, chair=app.settings.sprg_chair, compiled_on=london(now).date())
            written = write_pack(out, data)
            audit_many(
                session,
                now,
                actor(args),
                case_entries(
                    session,
                    [c.ref for c in cases],
                    "sprg.agenda_pack",
                    f"meeting {meeting.isoformat()}, {len(cases)} cases",
                ),
            )
        sent = 0
        if args.send:
            sent = digest.queue_digest(
                session, app.vault, app.settings, app.outbound, now, meeting, cases, actor=actor(args)
            )
    out_text = [f"SPRG meeting {long_date(meeting)}: {len(lines)} case{'s' if len(lines) != 1 else ''}"]
    out_text += [f"  {ln.ref}  {ln.agency}  (age {ln.age_band})  {ln.themes}" for ln in lines]
    out_text += [f"agenda pack written: {path}" for path in written]
    if args.send:
        drained = app.drainer.drain()
        out_text.append(
            f"digest sent to {sent} member{'s' if sent != 1 else ''} "
            f"({drained.sent} sent now, {drained.retry} to retry, "
            f"{drained.failed} failed)"
        )
    sys.stdout.write("\n".join(out_text) + "\n")
    return 0


def cmd_outcome(args: argparse.Namespace, app: Any = None) -> int:
    from mailbot.sprg import decisions
    from mailbot.sprg.calendar import parse_day
    from mailbot.sprg.decision_form import OPTIONS, get, meeting_not_yet_held, merged

    changes: dict[str, Any] = {}
    for option, key in OPTIONS:
        value = getattr(args, option)
        if value is None:
            continue
        if option.endswith("date"):
            value = parse_day(value, "--" + option.replace("_", "-")).isoformat()
        changes[key] = value
    if not changes:
        raise UsageError(
            "give the decision: at least one of --single, --multi, --methodology, "
            "--final-report-date, --other-actions, ..."
        )
    app, own = _app(args, app)
    now = app.clock.now()
    try:
        with app.db.session() as session:
            case = _case(session, args.ref)
            decision = merged(decisions.current(session, app.vault, case), changes)
            if not get(decision, "sprg.meeting_date") and case.meeting_date:
                decision["sprg"]["meeting_date"] = case.meeting_date.isoformat()
            if not get(decision, "sprg.chair") and app.settings.sprg_chair:
                decision["sprg"]["chair"] = app.settings.sprg_chair
            first = case.status != "decided"
            decisions.record(
                session,
                app.vault,
                app.outbound,
                now,
                case,
                decision,
                actor=actor(args),
                source="command",
                force=args.force,
            )
            early = meeting_not_yet_held(decision, case.meeting_date, london(now).date())
            ref = case.ref
        drained = app.drainer.drain()
    finally:
        if own:
            app.close()
    if early is not None and first:
        print(
            f"mailbot: warning: recorded before the meeting of {early:%d/%m/%Y} (--force); "
            "the referrer has been told",
            file=sys.stderr,
        )
    print(
        f"{ref}: SPRG decision {'recorded' if first else 'amended'}; case decided"
        + (f"; the referrer was told by reference ({drained.sent} sent)" if first else "")
    )
    return 0
