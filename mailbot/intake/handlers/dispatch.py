"""The order of the handlers, and the one function that runs them."""

from __future__ import annotations

from collections.abc import Sequence

from mailbot.intake.handlers.automatic import automatic_reason, handle_automatic
from mailbot.intake.handlers.base import Handler, HandlerContext, Held, Outcome
from mailbot.intake.handlers.followup import handle_followup
from mailbot.intake.handlers.referral import handle_correspondence, handle_referral
from mailbot.intake.handlers.sealed import handle_sealed
from mailbot.intake.handlers.sprg_decision import handle_sprg_decision
from mailbot.intake.handlers.trust import handle_untrusted
from mailbot.intake.handlers.unread import handle_unread
from mailbot.mail.reader import InboundMessage


def default_handlers() -> tuple[Handler, ...]:
    return (
        handle_unread,
        handle_automatic,
        handle_untrusted,
        handle_sprg_decision,
        handle_followup,
        handle_sealed,
        handle_referral,
        handle_correspondence,
    )


def decide(handlers: Sequence[Handler], msg: InboundMessage, ctx: HandlerContext) -> Outcome:
    """The first handler with an opinion decides.

    A handler that raises is not caught here: the pipeline holds the message for a person
    (one place, one alert), whatever part of the work failed.
    """
    for handler in handlers:
        outcome = handler(msg, ctx)
        if outcome is not None:
            if msg.wrapping.notes:  # how it arrived (signed, forwarded...), for the team
                outcome.reason += "; " + "; ".join(msg.wrapping.notes)
            return outcome
    return Held(action="quarantine", reason="no handler could judge this message; held for a person")


def reads_forms(msg: InboundMessage, own_addresses: frozenset[str]) -> bool:
    """Whether the handlers will likely ask for this message's attachments: not for a
    message the sandbox stopped reading, automatic mail, a failed sender check or one
    without a sender (the first handlers decide those without opening a file). A guess,
    made before the transaction (``Intake.preread``); a wrong one only costs time."""
    return (
        msg.stopped_at is None
        and msg.sender is not None
        and not msg.auth.quarantine
        and any(not a.inline for a in msg.attachments)
        and automatic_reason(msg, own_addresses) is None
    )
