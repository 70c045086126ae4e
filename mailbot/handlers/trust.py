"""Untrusted senders: our own MX recorded a DMARC failure for the From domain."""

from __future__ import annotations

from mailbot.handlers.base import HandlerContext, Outcome
from mailbot.mail.reader import InboundMessage


def handle_untrusted(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    if msg.dmarc == "fail":
        return Outcome(
            "quarantine",
            "our mail server recorded dmarc=fail for the sender's domain: possibly spoofed; "
            "held for a person, no automatic reply",
            alert="A message failed the sender check (DMARC) and is held in quarantine.",
        )
    if msg.sender is None:
        return Outcome("quarantine", "no usable sender address in From: cannot reply",
                       alert="A message without a usable sender address is held in quarantine.")
    return None
