"""Handlers decide, the core acts.

Each handler looks at one parsed message and returns an outcome (or ``None`` to let
the next handler look). ``default_handlers()`` gives the order, which matters: a
message the sandbox could not read is held first (nothing in it is known); automatic
mail is recognised before anything else so that the bot can never answer an
auto-reply (RFC 3834), and a DMARC failure is held before the message can touch a case.
``build_app`` passes the handlers to the pipeline; nothing reads a global list.
"""

from mailbot.intake.handlers.base import Action, Handler, HandlerContext, Outcome
from mailbot.intake.handlers.dispatch import decide, default_handlers, reads_forms

__all__ = ["Action", "Handler", "HandlerContext", "Outcome", "decide", "default_handlers", "reads_forms"]
