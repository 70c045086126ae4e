"""Retry pacing and quiet logging for connections that come and go.

Two small pieces the IMAP and SMTP adapters share:

* ``Backoff`` says how long to wait before try *n*: exponential, capped, with jitter so
  that several bots restarted together do not knock on the server in step.
* ``LinkState`` logs a connection going down and coming back once per change, never
  once per try, so an hour-long outage is two log lines, not thousands.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Capped exponential delays with "equal jitter".

    ``delay(n)`` lies in ``[d/2, d]`` where ``d = min(cap, base * factor**n)``: never
    zero (a dead server is not hammered), never above the cap.
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    #: How many tries in a row before giving the error to the caller.
    attempts: int = 5
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (0-based)."""
        ceiling = min(self.cap, self.base * self.factor ** max(0, attempt))
        return ceiling / 2 + self.rand() * ceiling / 2


@dataclass
class LinkState:
    """Remembers whether a link is up, and logs only when that changes.

    Log lines name the link (``imap://user@host:port`` style identities carry no
    secrets) and the kind of error, never message contents.
    """

    name: str
    logger: logging.Logger
    up: bool = True

    def failed(self, error: BaseException) -> None:
        if self.up:
            self.logger.warning("%s: connection lost (%s); retrying", self.name, type(error).__name__)
            self.up = False
        else:
            self.logger.debug("%s: still down (%s)", self.name, type(error).__name__)

    def succeeded(self) -> None:
        if not self.up:
            self.logger.info("%s: connection restored", self.name)
            self.up = True
