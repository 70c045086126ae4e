"""The console entry point: a long-running ``poll`` hears a stop request before the
slow imports of the rest of the command line, and the start-up runs without the
cyclic garbage collector's full passes."""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

#: While starting, the collector looks at young objects only after this many new ones:
#: a command's start-up (SQLAlchemy, the models, the app) makes about 110,000 objects
#: that live as long as the process and almost no garbage (about 2,000 objects), yet
#: with the default threshold (700) each new tenth of them set off a full pass over all
#: the others: about 40 ms of a 0.4 s ``mailbot cases``. A command that never says it
#: has started (see ``started``) still collects, only less often.
STARTING_THRESHOLD = 250_000

_thresholds: tuple[int, int, int] | None = None

#: The options before the command word that take a value (``--config PATH``, ``--as NAME``).
_VALUED = ("--config", "--as")


def command_word(argv: Sequence[str]) -> str | None:
    """The command a command line runs (``cases`` in ``--config x.toml cases --json``);
    None when it asks for the top-level help or names no command.  Here, not in
    ``main``, so that ``run`` can tell a ``poll`` before the slow imports."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-h", "--help"):
            return None
        elif arg in _VALUED:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def starting() -> None:
    """Hold the collector back while modules are imported (``run`` calls this first)."""
    global _thresholds
    if _thresholds is None:
        _thresholds = gc.get_threshold()
        gc.set_threshold(STARTING_THRESHOLD, _thresholds[1], _thresholds[2])


def started() -> None:
    """The start-up is over (the app is open): what it made is kept out of every later
    collection (``gc.freeze``: it lives as long as the process), and the collector runs
    as usual again. Does nothing unless ``starting`` ran: a test calling ``main`` in
    its own process keeps its collector as it was."""
    global _thresholds
    if _thresholds is not None:
        gc.freeze()
        gc.set_threshold(*_thresholds)
        _thresholds = None


def run() -> int:
    starting()
    args = sys.argv[1:]
    if command_word(args) == "poll":
        from mailbot import shutdown

        shutdown.listen()
    from mailbot.cli.main import main

    return main(args)
