"""A stop request (SIGTERM, SIGINT) heard from the first instant of ``mailbot poll``.

The poller's own handler is installed only after the package's imports, which take a
second or two on a busy machine; a service manager that stops the bot in that window
must still see a clean exit. ``listen()`` is called by the entry point before anything
heavy is imported, and the poller asks ``requested()`` when it starts.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_requested = threading.Event()


def request(signum: int | None = None, _frame: FrameType | None = None) -> None:
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def listen() -> None:
    signal.signal(signal.SIGTERM, request)
    signal.signal(signal.SIGINT, request)
