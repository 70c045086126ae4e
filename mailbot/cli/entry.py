"""The console entry point: a long-running ``poll`` hears a stop request before the
slow imports of the rest of the command line."""

from __future__ import annotations

import sys


def run() -> int:
    args = sys.argv[1:]
    words = [a for a in args if not a.startswith("-")]
    if words[:1] == ["poll"] or (len(words) > 1 and words[1] == "poll"):  # after --config PATH
        from mailbot import shutdown

        shutdown.listen()
    from mailbot.cli.main import main

    return main(args)
