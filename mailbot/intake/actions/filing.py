"""The actions that open no case: ask for a usable copy, hold for a person, file away."""

from __future__ import annotations

from mailbot.intake.actions.base import ActionContext
from mailbot.intake.handlers.base import Filed, Held, Rejected


class AskForUsableCopy:
    """``reject_attachment``: a plain-words reply saying why the file was not opened."""

    def apply(self, ctx: ActionContext, outcome: Rejected) -> list[str]:
        reasons = [v.reason or "the file could not be opened" for v in outcome.verdicts if v.kind == "reject"]
        refs = [outcome.case.ref] if outcome.case else []
        ctx.reply(
            "reject_attachment",
            "Your attachment could not be opened",
            refs,
            ctx.row.key_id,
            ref=outcome.case.ref if outcome.case else None,
            reasons=reasons,
        )
        if outcome.case is not None:
            ctx.link(ctx.case(outcome))
        return refs


class HoldForPerson:
    """``quarantine``: nothing to do now; the row's hold state keeps it for a person."""

    def apply(self, ctx: ActionContext, outcome: Held) -> list[str]:
        return []


class FileAway:
    """``ignore_auto`` and ``not_referral``: recorded and moved, never answered."""

    def apply(self, ctx: ActionContext, outcome: Filed) -> list[str]:
        return []
