"""Actions: the core carries out what a handler decided, one strategy class per outcome.

``apply`` picks the strategy by the outcome's type (so a decision recorded by email and
a referrer's reply, both ``merge_followup``, are told apart by what they carry, not by
probing attributes), then writes the audit entry and the team's alert, which every
action shares.
"""

from __future__ import annotations

from mailbot.intake.actions.base import BOT, ActionContext, ActionStrategy
from mailbot.intake.actions.filing import AskForUsableCopy, FileAway, HoldForPerson
from mailbot.intake.actions.follow_up import AddToCase, RecordDecision
from mailbot.intake.actions.new_cases import OpenCases
from mailbot.intake.handlers.base import Filed, FollowUp, Held, NewCases, Outcome, Rejected, SprgDecision
from mailbot.outbound.mail import OutboundMail
from mailbot.store.audit import audit

STRATEGIES: dict[type[Outcome], ActionStrategy] = {
    NewCases: OpenCases(),
    FollowUp: AddToCase(),
    SprgDecision: RecordDecision(),
    Rejected: AskForUsableCopy(),
    Held: HoldForPerson(),
    Filed: FileAway(),
}

__all__ = ["ActionContext", "apply"]


def apply(ctx: ActionContext, outcome: Outcome) -> list[str]:
    """Carry out the outcome in the message's transaction; the case references touched."""
    refs = STRATEGIES[type(outcome)].apply(ctx, outcome)
    audit(
        ctx.session,
        ctx.now,
        BOT,
        f"message.{ctx.row.action}",
        message_id=ctx.row.id,
        case_id=outcome.case.id if outcome.case else None,
        detail=ctx.row.reason,
    )
    if outcome.alert:
        alert_team(ctx, outcome, refs)
    return refs


def alert_topic(outcome: Outcome) -> str:
    if isinstance(outcome, FollowUp) and not outcome.update_case:
        return "a new form for a case already in progress"
    if isinstance(outcome, NewCases) and outcome.sealed:
        return {
            "portal": "a secure message to open in its portal",
            "encrypted": "an encrypted message to open",
            "password": "a password-protected form",
        }[outcome.sealed]
    return {
        "quarantine": "a message is held for checking",
        "merge_followup": "a reply without a form to read",
        "manual_entry": "a form to enter by hand",
    }.get(outcome.action, "a message to read")


def alert_team(ctx: ActionContext, outcome: Outcome, case_refs: list[str]) -> None:
    """Tell the team by reference and reason only (never a value from the message)."""
    team = ctx.settings.team_address
    if not team:
        return
    refs = [outcome.case.ref] if outcome.case else case_refs
    row = ctx.row
    ctx.outbound.queue(
        ctx.session,
        ctx.now,
        OutboundMail(
            kind="alert",
            template="alert",
            subject="Action needed: " + alert_topic(outcome),
            recipient=team,
            refs=refs,
            key_id=row.key_id,
            inbound_row_id=row.id,
            context={
                "text": outcome.alert,
                "ref": ", ".join(refs) or None,
                "message_row_id": row.id,
                "reason": row.reason,
                "folder": row.target_folder,
            },
        ),
    )
