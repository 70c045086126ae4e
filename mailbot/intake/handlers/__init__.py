"""Handlers decide, the core acts.

Each handler looks at one parsed message and returns an ``Outcome`` (or ``None`` to let
the next handler look). The order is fixed and matters: automatic mail is recognised
before anything else so that the bot can never answer an auto-reply (RFC 3834), and a
DMARC failure is held before the message can touch a case.
"""

from __future__ import annotations

from mailbot.intake.handlers.base import Action, HandlerContext, Outcome
from mailbot.intake.handlers.dispatch import HANDLERS, decide

__all__ = ["Action", "HandlerContext", "Outcome", "HANDLERS", "decide"]
