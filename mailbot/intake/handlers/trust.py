"""Untrusted senders: our own receiving side recorded a DMARC (or Exchange Online
compauth) failure for the From domain, or the From names no single sender.

Which Authentication-Results header counts is ``mail.sender_auth``'s rule, applied by
the reader (``mailbot.mail.authresults``); this handler only acts on its verdict.
"""

from __future__ import annotations

from mailbot.intake.handlers.base import HandlerContext, Held, Outcome
from mailbot.intake.handlers.followup import target_cases
from mailbot.mail.reader import InboundMessage


def handle_untrusted(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    if ctx.trusted:
        return None
    if msg.auth.quarantine:
        # The reason names results and policies only, never an address or a domain. A
        # message that points at a case is linked to it, so the team sees it there.
        cases = target_cases(msg, ctx)
        return Held(
            action="quarantine",
            case=cases[0] if cases else None,
            reason=f"{msg.auth.reason}; held for a person, no automatic reply",
            alert="We could not confirm that this message really came from the address it "
            "shows (it failed the sender check at our mail server, DMARC), so it has not "
            "been answered. Please check it under Held messages before releasing it.",
        )
    if msg.sender is None:
        return Held(
            action="quarantine",
            reason="no usable sender address in From: cannot reply",
            alert="A message arrived without a sender address we can reply to, so "
            "it has not been answered. It is under Held messages.",
        )
    return None
