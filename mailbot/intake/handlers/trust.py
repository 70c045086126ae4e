"""Untrusted senders: our own MX recorded a DMARC failure for the From domain."""

from __future__ import annotations

from mailbot.intake.handlers.base import HandlerContext, Held, Outcome
from mailbot.mail.reader import InboundMessage


def handle_untrusted(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    if ctx.trusted:
        return None
    if msg.dmarc == "fail":
        return Held(
            action="quarantine",
            reason="our mail server recorded dmarc=fail for the sender's domain: possibly "
                   "spoofed; held for a person, no automatic reply",
            alert="We could not confirm that this message really came from the address it "
                  "shows (it failed the sender check at our mail server, DMARC), so it has not "
                  "been answered. Please check it under Held messages before releasing it.",
        )
    if msg.sender is None:
        return Held(action="quarantine", reason="no usable sender address in From: cannot reply",
                    alert="A message arrived without a sender address we can reply to, so "
                          "it has not been answered. It is under Held messages.")
    return None
