"""Commands of this feature, added to the main parser by ``mailbot.cli``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def add_parsers(sub: Any) -> dict[str, Handler]:
    """Add this feature's sub-commands to ``sub``; return {name: handler}."""
    return {}
