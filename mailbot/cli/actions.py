"""``actions add|list|done|carry``: the action plans of SPRG decisions.

``actions add REF --text T --agency A --owner ROLE [--email E] --due DATE``,
``actions list [--overdue] [--agency A] [--ref REF] [--json]``,
``actions done ID --evidence T [--on DATE]``, ``actions carry ID --why T``.
The work is ``mailbot.sprg.actions``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mailbot.cli.common import Command, actor, emit, open_app
from mailbot.cli.serious import cli_date
from mailbot.cli.text import table
from mailbot.clock import london

# The work's modules are imported by each command (see mailbot.cli.common: start-up time).


def add_parsers(sub: Any) -> dict[str, Command]:
    group = sub.add_parser("actions", help="the action plans of SPRG decisions")
    asub = group.add_subparsers(dest="actions_command", required=True, parser_class=type(group))
    add = asub.add_parser("add", help="add an action to a case's SPRG decision")
    add.add_argument("ref")
    add.add_argument(
        "--text", required=True, help="what is to be done (sent to the owner: never name the child)"
    )
    add.add_argument("--agency", required=True, help="the owning agency")
    add.add_argument("--owner", required=True, help="the owner's role, e.g. 'Named GP lead'")
    add.add_argument("--email", help="the owner's address, for reminders")
    add.add_argument("--due", required=True, metavar="DATE", help="DD/MM/YYYY or YYYY-MM-DD")
    listing = asub.add_parser("list", help="actions by due date")
    listing.add_argument("--overdue", action="store_true", help="only overdue actions")
    listing.add_argument("--agency", help="only this agency's actions")
    listing.add_argument("--ref", help="only this case's actions")
    listing.add_argument("--json", action="store_true")
    done = asub.add_parser("done", help="record an action as done, with its evidence")
    done.add_argument("id", help="the action's id (or its first six characters or more)")
    done.add_argument("--evidence", required=True, help="what shows it is done")
    done.add_argument("--on", metavar="DATE", help="the day it was done (default: today)")
    carry = asub.add_parser("carry", help="carry an action forward (it no longer keeps the case open)")
    carry.add_argument("id")
    carry.add_argument("--why", required=True)
    return {"actions": cmd_actions}


def cmd_actions(args: argparse.Namespace, app: Any = None) -> int:
    own = app is None
    app = app or open_app(args)
    try:
        return {"add": _add, "list": _list, "done": _done, "carry": _carry}[args.actions_command](app, args)
    finally:
        if own:
            app.close()


def _add(app: Any, args: argparse.Namespace) -> int:
    from mailbot.cases import store as case_store
    from mailbot.sprg import actions

    now = app.clock.now()
    due = cli_date(args.due, "--due", london(now).date())
    with app.db.session() as session:
        case = case_store.case_by_ref(session, args.ref)
        row = actions.add(
            session,
            app.vault,
            now,
            case,
            text=args.text,
            agency=args.agency,
            owner=args.owner,
            email=args.email,
            due=due,
            actor=actor(args),
        )
        ref, action_id = case.ref, row.id
    print(
        f"{ref}: action {action_id} added, due {due:%d/%m/%Y}"
        + ("; its owner will be reminded by e-mail" if args.email else "")
    )
    print(f"Note: {actions.SENT_OUTSIDE}", file=sys.stderr)
    return 0


def _list(app: Any, args: argparse.Namespace) -> int:
    from mailbot.sprg import actions
    from mailbot.store.audit import audit

    today = london(app.clock.now()).date()
    with app.db.session() as session:
        items = actions.listed(
            session, app.vault, today, overdue=args.overdue, agency=args.agency, ref=args.ref
        )
        audit(session, app.clock.now(), actor(args), "action.listed", detail=f"{len(items)} actions")
    rows = [[i.id[:8], i.ref, i.agency, i.owner, f"{i.due:%d/%m/%Y}", i.state, i.text] for i in items]
    text = (
        table(["Id", "Case", "Agency", "Owner", "Due", "State", "Action"], rows) if rows else "No actions.\n"
    )
    emit(args, [i.as_json() for i in items], text)
    return 0


def _done(app: Any, args: argparse.Namespace) -> int:
    from mailbot.sprg import actions

    now = app.clock.now()
    on = cli_date(args.on, "--on", london(now).date()) if args.on else london(now).date()
    with app.db.session() as session:
        row = actions.find(session, args.id)
        actions.complete(session, app.vault, now, row, evidence=args.evidence, on=on, actor=actor(args))
        action_id = row.id
    print(f"action {action_id} done on {on:%d/%m/%Y}")
    return 0


def _carry(app: Any, args: argparse.Namespace) -> int:
    from mailbot.sprg import actions

    now = app.clock.now()
    with app.db.session() as session:
        row = actions.find(session, args.id)
        actions.carry_forward(
            session, app.vault, now, row, why=args.why, on=london(now).date(), actor=actor(args)
        )
        action_id = row.id
    print(f"action {action_id} carried forward")
    return 0
