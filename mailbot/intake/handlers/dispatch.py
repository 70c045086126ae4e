"""The fixed order of handlers, and the one place that runs them."""

from __future__ import annotations

from collections.abc import Callable

from mailbot.intake.handlers.automatic import handle_automatic
from mailbot.intake.handlers.base import HandlerContext, Outcome
from mailbot.intake.handlers.followup import handle_followup
from mailbot.intake.handlers.referral import handle_correspondence, handle_referral
from mailbot.intake.handlers.sprg_decision import handle_sprg_outcome
from mailbot.intake.handlers.trust import handle_untrusted
from mailbot.mail.reader import InboundMessage

Handler = Callable[[InboundMessage, HandlerContext], Outcome | None]

HANDLERS: tuple[Handler, ...] = (
    handle_automatic,
    handle_untrusted,
    handle_sprg_outcome,
    handle_followup,
    handle_referral,
    handle_correspondence,
)


def decide(msg: InboundMessage, ctx: HandlerContext) -> Outcome:
    """The first handler with an opinion decides; one that fails holds the message."""
    for handler in HANDLERS:
        try:
            outcome = handler(msg, ctx)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the run;
            # it is held for a person with the error's type (never its text, which may
            # quote personal data).
            return Outcome("quarantine", f"could not be judged automatically "
                           f"({handler.__name__}: {type(exc).__name__}); held for a person",
                           alert="A message could not be handled automatically, so it has not "
                                 "been answered. It is under Held messages for you to read.")
        if outcome is not None:
            return outcome
    return Outcome("quarantine", "no handler could judge this message; held for a person")
