"""The command line: a thin layer over the app (``main(argv) -> int``).

Each command group (one module of ``mailbot.cli``) adds its sub-commands and names the
function each runs. Exit codes (INTERFACE.md): 0 done; 2 a usage or configuration error,
told in one line naming the setting at fault; 1 anything else, in one line (a traceback
only with ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mailbot.cli import (
    actions,
    admin,
    audit,
    backups,
    cases,
    intake,
    jobs,
    records,
    report,
    serious,
    sprg,
    web,
)
from mailbot.cli.entry import command_word as command_word  # also for callers of main
from mailbot.errors import ConfigError, MailbotError, NotFound, UsageError
from mailbot.safetext import escape_controls

#: The command groups, in the order ``mailbot --help`` lists them.
GROUPS = (intake, cases, admin, audit, sprg, serious, actions, report, web, jobs, records, backups)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


class _Unbuilt:
    """A sub-command this run does not run: every call made to build it is ignored."""

    def __getattr__(self, _name: str) -> Any:
        return self._ignore

    def _ignore(self, *_args: Any, **_kwargs: Any) -> _Unbuilt:
        return self


class _OnlyOne:
    """The sub-commands action as the groups see it, building only the command run.

    Start-up time: argparse builds each of the ~50 sub-parsers in full (each a formatter
    and a few gettext look-ups per argument), about 15 ms that no command but
    ``--help`` uses; the others are handed an :class:`_Unbuilt`.
    """

    def __init__(self, sub: Any, wanted: str) -> None:
        self.sub = sub
        self.wanted = wanted

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name == self.wanted or self.wanted in kwargs.get("aliases", ()):
            return self.sub.add_parser(name, **kwargs)
        return _Unbuilt()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; each sub-command's function is its ``func`` default.

    With ``only`` (a command word), just that command's sub-parser is built (see
    :func:`parse_args`).
    """
    parser = _Parser(prog="mailbot", description="CSCP Case of Concern intake bot")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="NAME",
        help="the workspace user running this command (named in the audit log with the login)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    groups = sub if only is None else _OnlyOne(sub, only)
    for group in GROUPS:
        for name, func in group.add_parsers(groups).items():
            if name in sub.choices:
                sub.choices[name].set_defaults(func=func)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The arguments, parsed by the one sub-parser the command needs; any usage error
    is told by the whole parser (which names every choice, and reads an abbreviated
    ``--conf`` as argparse always did), so only the time differs."""
    word = command_word(argv)
    if word is not None:
        try:
            return build_parser(word).parse_args(argv)
        except UsageError:
            pass
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = parse_args(args_list)
        return int(args.func(args))
    except (ConfigError, UsageError) as exc:
        if debug:
            raise
        print(f"mailbot: {escape_controls(str(exc))}", file=sys.stderr)
        return 2
    except NotFound as exc:
        print(f"mailbot: {escape_controls(str(exc))}", file=sys.stderr)
        return 1
    except MailbotError as exc:
        if debug:
            raise
        print(f"mailbot: {escape_controls(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last resort: one line, no traceback
        # (a traceback could show form values); --debug re-raises for developers.
        if debug:
            raise
        print(f"mailbot: unexpected error ({type(exc).__name__}); run again with --debug", file=sys.stderr)
        return 1
