"""What every command shares: loading the settings, opening the app, printing results."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailbot.cli.entry import started
from mailbot.errors import ConfigError, UsageError
from mailbot.logs import setup_logging
from mailbot.safetext import escape_lines, json_escape_controls
from mailbot.settings import Settings, load_settings

if TYPE_CHECKING:
    from mailbot.app import App

# Start-up time (benchmarks/bench_startup.py): every command module imports this one, and
# `mailbot --help` imports every command module, so the app, SQLAlchemy and the libraries
# behind them are imported inside the functions that need them, never here.

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


def require_state(settings: Settings) -> None:
    """Stop (exit 2) when the master key or the SQLite database is not there.

    Only ``init`` and ``demo`` create state. Any other command meeting no key means it
    runs in the wrong folder, or without the settings that say where the key is: making
    a new key and an empty database there would look like a working bot with no cases
    (and a second key that decrypts nothing), so it names what it looked for instead.
    """
    from sqlalchemy.engine import make_url

    from mailbot.store.keys import SETTING as KEY_SETTING

    keyed = settings.key_file.exists() or settings.key_command or settings.master_key
    missing = [] if keyed else [f"no master key at {settings.key_file}"]
    url = make_url(settings.database_url)
    database = url.database if url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:" and not Path(database).exists():
        missing.append(f"no database at {database}")
    if not missing:
        return
    looked = settings.config_file or settings.base_dir / "mailbot.toml"
    found = "read" if settings.config_file else "not found"
    raise ConfigError(
        KEY_SETTING if missing[0].startswith("no master key") else "store.url",
        f"{'; '.join(missing)} (settings file {looked}: {found}); run "
        "`mailbot init` to create them here, or point --config or "
        "MAILBOT_CONFIG at the settings",
    )


def open_app(args: argparse.Namespace, *, quiet: bool = False, create: bool = False) -> App:
    """The app for a command, its schema migrated; with ``create`` (the demo), a new key
    and database are made where there are none, else their absence stops the command."""
    from mailbot.app import build_app

    settings = load(args)
    if not create:
        require_state(settings)
    # The demo talks to a person: its own summary replaces the INFO log lines.
    setup_logging("WARNING" if quiet and "MAILBOT_LOG_LEVEL" not in os.environ else settings.log_level)
    app = build_app(settings)
    app.prepare()
    named = getattr(args, "as_user", None)
    if named:
        _check_workspace_user(app, named)
    started()
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
    # Every value printed is safe on a terminal: no ESC, CR or other control character
    # from mail (or from an older row stored before the reader cleaned it) reaches it.
    if getattr(args, "json", False):
        dumped = json.dumps(value, indent=2, ensure_ascii=False)
        sys.stdout.write(json_escape_controls(dumped) + "\n")
    else:
        sys.stdout.write(escape_lines(text))
