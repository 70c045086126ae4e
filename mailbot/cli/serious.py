"""``serious``, ``clock`` and ``meeting add``: serious incidents and their clocks.

``serious REF on|off --why T`` flags or clears a case (audited; flagging alerts the team
at once), ``clock REF aware|panel_notified|rapid_review_sent DATE`` records a clock's
date (``clear`` clears a completion date), ``meeting add DATE [--case REF]`` adds an
extraordinary SPRG meeting.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from mailbot.cli.common import Command, actor, open_app
from mailbot.clock import london, long_date
from mailbot.errors import UsageError

# The work's modules are imported by each command (see mailbot.cli.common: start-up time).

#: The clock dates ``clock`` records: ``mailbot.cases.clocks.RECORDS``'s keys, written out
#: here so that building the parser imports no model (tests/cli/test_startup.py checks).
CLOCK_RECORDS = ("aware", "panel_notified", "rapid_review_sent")


def add_parsers(sub: Any) -> dict[str, Command]:
    flag = sub.add_parser("serious", help="flag a case as a serious incident, or clear the flag")
    flag.add_argument("ref")
    flag.add_argument("state", choices=("on", "off"))
    flag.add_argument("--why", required=True, help="the reason (kept encrypted with the case)")
    flag.add_argument("--aware", metavar="DATE", help="the day the partnership became aware (default: today)")
    clock = sub.add_parser("clock", help="record a serious incident's clock date")
    clock.add_argument("ref")
    clock.add_argument("what", choices=CLOCK_RECORDS)
    clock.add_argument("date", help="DD/MM/YYYY or YYYY-MM-DD ('clear' clears a completion)")
    meeting = sub.add_parser("meeting", help="SPRG meetings outside the calendar")
    msub = meeting.add_subparsers(dest="meeting_command", required=True, parser_class=type(meeting))
    add = msub.add_parser("add", help="add an extraordinary SPRG meeting")
    add.add_argument("date", help="DD/MM/YYYY or YYYY-MM-DD")
    add.add_argument("--case", metavar="REF", help="move this case to the new meeting")
    return {"serious": cmd_serious, "clock": cmd_clock, "meeting": cmd_meeting}


def cli_date(text: str, what: str, today: date) -> date:
    """A date given on the command line: DD/MM/YYYY or ISO."""
    from mailbot.forms.dates import parse_uk_date

    result = parse_uk_date(text, today.year)
    if result.value is None:
        raise UsageError(f"{what}: {text!r} is not a date (DD/MM/YYYY or YYYY-MM-DD)")
    return result.value


def _app(args: argparse.Namespace, given: Any) -> tuple[Any, bool]:
    return (given, False) if given is not None else (open_app(args), True)


def cmd_serious(args: argparse.Namespace, app: Any = None) -> int:
    from mailbot.cases import serious
    from mailbot.cases import store as case_store
    from mailbot.cases.clocks import clocks_of
    from mailbot.sprg import scheduling

    app, own = _app(args, app)
    try:
        now = app.clock.now()
        aware = cli_date(args.aware, "--aware", london(now).date()) if args.aware else None
        with app.db.session() as session:
            case = case_store.case_by_ref(session, args.ref)
            changed = serious.set_flag(
                session,
                app.vault,
                app.outbound,
                now,
                case,
                args.state == "on",
                actor=actor(args),
                why=args.why,
                team_address=app.settings.team_address,
                aware=aware,
            )
            if aware and case.serious_incident:
                serious.record_date(session, now, case, "aware", aware, actor=actor(args))
            moved = scheduling.offer_serious(session, app.settings, now, case, actor(args))
            ref, clocks = case.ref, clocks_of(case, london(now).date())
        if changed:
            app.drainer.drain()
    finally:
        if own:
            app.close()
    state = "flagged as a serious incident" if args.state == "on" else "no longer flagged"
    print(
        f"{ref} {state}"
        + ("" if changed else " (unchanged)")
        + ("; the team was alerted" if changed and args.state == "on" and app.settings.team_address else "")
    )
    for item in clocks:
        print(f"  {item.label}: {item.words()}")
    if moved:
        print(f"  offered for the SPRG meeting on {long_date(moved)}")
    return 0


def cmd_clock(args: argparse.Namespace, app: Any = None) -> int:
    from mailbot.cases import serious
    from mailbot.cases import store as case_store
    from mailbot.cases.clocks import clocks_of

    app, own = _app(args, app)
    try:
        now = app.clock.now()
        today = london(now).date()
        day = None if args.date.strip().lower() == "clear" else cli_date(args.date, "DATE", today)
        with app.db.session() as session:
            case = case_store.case_by_ref(session, args.ref)
            serious.record_date(session, now, case, args.what, day, actor=actor(args))
            ref, clocks = case.ref, clocks_of(case, today)
    finally:
        if own:
            app.close()
    print(f"{ref}: {args.what.replace('_', ' ')} " + (f"recorded as {day:%d/%m/%Y}" if day else "cleared"))
    for item in clocks:
        print(f"  {item.label}: {item.words()}")
    return 0


def cmd_meeting(args: argparse.Namespace, app: Any = None) -> int:
    from mailbot.sprg.extraordinary import add_meeting

    app, own = _app(args, app)
    try:
        now = app.clock.now()
        day = cli_date(args.date, "DATE", london(now).date())
        with app.db.session() as session:
            moved = add_meeting(session, app.vault, app.settings, now, day, actor=actor(args), ref=args.case)
    finally:
        if own:
            app.close()
    print(
        f"extraordinary SPRG meeting on {long_date(day)}"
        + (f"; {', '.join(moved)} moved to it" if moved else "")
    )
    return 0
