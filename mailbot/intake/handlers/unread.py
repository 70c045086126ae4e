"""Messages the sandbox stopped reading at a hard limit (issue 13).

Nothing in such a message was read (not even its sender), so it cannot be answered:
it is held for a person, the team is told, and the bot goes on with the next message.
The reason names the limit only, never anything from the message.
"""

from __future__ import annotations

from mailbot.intake.handlers.base import HandlerContext, Held, Outcome
from mailbot.mail.reader import InboundMessage

_LIMITS = {
    "cpu": "its CPU time limit",
    "memory": "its memory limit",
    "wall": "its time limit",
    "crash": "a failure of the reader",
}


def handle_unread(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    if msg.stopped_at is None:
        return None
    limit = _LIMITS.get(msg.stopped_at, "a safety limit")
    return Held(
        action="quarantine",
        reason=f"too complex to read automatically: reading stopped at {limit}; held for a person",
        alert="A message was too complex to read automatically (reading it was "
        "stopped at a safety limit), so it has not been answered. It is under "
        "Held messages for you to read.",
    )
