"""What every command shares: loading the settings, opening the app, printing results."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from mailbot.app import App, build_app
from mailbot.errors import UsageError
from mailbot.logs import setup_logging
from mailbot.settings import Settings, load_settings

#: A command's function: parsed arguments in, exit code out.
Command = Callable[[argparse.Namespace], int]


def os_user() -> str:
    """The operating-system login running the command (a uid where none is named)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no name in /etc/passwd
        return f"uid{os.getuid()}"


def actor(args: argparse.Namespace) -> str:
    """Who the audit log names for a command: the login (``os:alice``), and the
    workspace user given with ``--as`` (``tess.team (os:alice)``); never "cli" alone."""
    login = f"os:{os_user()}"
    named = getattr(args, "as_user", None)
    return f"{named} (os:{os_user()})" if named else login


def load(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def open_app(args: argparse.Namespace, *, quiet: bool = False) -> App:
    settings = load(args)
    # The demo talks to a person: its own summary replaces the INFO log lines.
    setup_logging("WARNING" if quiet and "MAILBOT_LOG_LEVEL" not in os.environ
                  else settings.log_level)
    app = build_app(settings)
    app.prepare()
    named = getattr(args, "as_user", None)
    if named:
        _check_workspace_user(app, named)
    return app


def _check_workspace_user(app: App, name: str) -> None:
    from sqlalchemy import select

    from mailbot.store.models import WebUser

    with app.db.session() as session:
        user = session.scalars(select(WebUser).where(WebUser.name == name)).one_or_none()
    if user is None or user.disabled:
        app.close()
        raise UsageError(f"--as: {name} is not an enabled workspace user (see mailbot users list)")


def emit(args: argparse.Namespace, value: Any, text: str) -> None:
    """JSON (INTERFACE.md's shapes) with ``--json``, else the text for people."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(text)
