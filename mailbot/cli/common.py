"""What every command shares: loading the settings, opening the app, printing results."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from mailbot.app import App, build_app
from mailbot.logs import setup_logging
from mailbot.settings import Settings, load_settings

#: A command's function: parsed arguments in, exit code out.
Command = Callable[[argparse.Namespace], int]
#: Who the audit log names for what is done at the command line.
ACTOR = "cli"


def load(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def open_app(args: argparse.Namespace, *, quiet: bool = False) -> App:
    settings = load(args)
    # The demo talks to a person: its own summary replaces the INFO log lines.
    setup_logging("WARNING" if quiet and "MAILBOT_LOG_LEVEL" not in os.environ
                  else settings.log_level)
    app = build_app(settings)
    app.prepare()
    return app


def emit(args: argparse.Namespace, value: Any, text: str) -> None:
    """JSON (INTERFACE.md's shapes) with ``--json``, else the text for people."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(text)
