"""``serve`` and ``users``: the team's web workspace and its accounts.

``serve`` runs the workspace under waitress; ``users`` manages its accounts.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import threading
from typing import Any

from mailbot.cli.common import Command, actor, open_app
from mailbot.errors import UsageError

#: The workspace roles: ``mailbot.store.models.ROLES``, written out here so that building
#: the parser imports no model (tests/cli/test_startup.py checks they are the same).
ROLES = ("team", "sprg", "admin")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
LOOPBACK = ("127.0.0.1", "::1", "localhost")
log = logging.getLogger(__name__)


def add_parsers(sub: Any) -> dict[str, Command]:
    """Add this feature's sub-commands to ``sub``; return {name: handler}."""
    serve = sub.add_parser("serve", help="the CSCP team's web workspace")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.add_argument("--threads", type=int, default=8, help=argparse.SUPPRESS)
    users = sub.add_parser("users", help="workspace accounts")
    usub = users.add_subparsers(dest="users_command", required=True, parser_class=type(users))
    add = usub.add_parser("add", help="add a user (password from stdin, or prompted)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    disable = usub.add_parser("disable", help="stop a user signing in; ends their sessions")
    disable.add_argument("name")
    enable = usub.add_parser("enable", help="let a disabled user sign in again")
    enable.add_argument("name")
    reset = usub.add_parser("reset", help="set a new password (stdin, or prompted)")
    reset.add_argument("name")
    usub.add_parser("list", help="the users, their roles and states")
    return {"serve": cmd_serve, "users": cmd_users}


def read_password(prompt: str = "Password") -> str:
    """From stdin when it is not a terminal (first line), else prompted twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass(f"{prompt} again: ") != first:
        raise UsageError("the two passwords are not the same")
    return first


def _warm_search(app: Any, web: Any) -> None:
    """Fill the search cache while the first pages are served (5,000 cases: about 6 s)."""
    try:
        with app.db.session() as session:
            web.extensions["mailbot_search"].warm(session, app.vault)
    except Exception:  # noqa: BLE001 - a cold cache only makes the first search slower
        log.warning("search.warm_failed")


def cmd_serve(args: argparse.Namespace) -> int:
    import waitress

    from mailbot.web.factory import create_app

    if not 0 < args.port < 65536:
        raise UsageError("--port: expected 1-65535")
    app = open_app(args)
    loopback = args.host in LOOPBACK
    web = create_app(app, secure_cookies=not loopback)
    threading.Thread(target=_warm_search, args=(app, web), daemon=True, name="search-warm").start()
    if not loopback:
        print(
            "mailbot: serving beyond loopback: put it behind HTTPS (session cookies are "
            "Secure, so a browser will not send them over plain HTTP)",
            file=sys.stderr,
        )
    print(f"CSCP workspace on http://{args.host}:{args.port}/ (Ctrl+C stops it)", file=sys.stderr)
    try:
        waitress.serve(
            web,
            host=args.host,
            port=args.port,
            threads=args.threads,
            ident="",
            clear_untrusted_proxy_headers=True,
        )
    finally:
        app.close()
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from mailbot.store.audit import audit
    from mailbot.store.models import WebUser
    from mailbot.web import users as user_store

    app = open_app(args)
    now = app.clock.now()
    try:
        if args.users_command == "list":
            from sqlalchemy import select

            with app.db.session() as session:
                for user in session.scalars(select(WebUser).order_by(WebUser.name)):
                    state = "disabled" if user.disabled else "active"
                    print(f"{user.name:<24} {user.role:<6} {state}")
            return 0
        password = None
        if args.users_command in ("add", "reset"):
            password = read_password()
        with app.db.session() as session:
            if args.users_command == "add":
                assert password is not None
                user_store.add_user(session, args.name, args.role, password, now)
            elif args.users_command == "disable":
                user_store.disable_user(session, args.name)
            elif args.users_command == "enable":
                user_store.enable_user(session, args.name)
            else:
                assert password is not None
                user_store.reset_password(session, args.name, password, now)
            audit(session, now, actor(args), f"user.{args.users_command}", detail=args.name)
    finally:
        app.close()
    done = {
        "add": "added",
        "disable": "disabled",
        "enable": "enabled",
        "reset": "has a new password; two-step sign-in cleared (set it up again at the next sign-in)",
    }[args.users_command]
    print(f"{args.name} {done}")
    return 0
