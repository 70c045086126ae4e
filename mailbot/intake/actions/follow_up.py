"""``merge_followup``: a referrer's reply joins its case; the team's decision is recorded."""

from __future__ import annotations

from typing import Any

from mailbot.cases import store as case_store
from mailbot.cases.serious import flag_on_arrival
from mailbot.intake.actions.acknowledge import acknowledge, note_for
from mailbot.intake.actions.base import BOT, ActionContext, build_version, keep_attachments
from mailbot.intake.handlers.base import FollowUp, SprgDecision
from mailbot.sprg import decisions
from mailbot.store.audit import audit


def _is_empty(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_is_empty(v) for v in value.values())
    return value in (None, "", [])


class AddToCase:
    def apply(self, ctx: ActionContext, outcome: FollowUp) -> list[str]:
        case = ctx.case(outcome)
        ctx.link(case)
        if outcome.resent:  # the files are the case's already; the message is kept
            ctx.reply("already_received", "Referral already received", [case.ref], case.key_id, ref=case.ref)
            return [case.ref]
        keep_attachments(ctx, case, outcome.verdicts)
        if outcome.locked:
            ctx.reply(
                "sealed_received",
                "Form received - the CSCP team will phone you for the password",
                [case.ref],
                case.key_id,
                ref=case.ref,
                how="password",
            )
            return [case.ref]
        forms = outcome.forms
        if not forms or not outcome.update_case:
            return [case.ref]
        version = build_version(ctx, forms[0].form)
        current, _row = case_store.load_referral(ctx.session, ctx.vault, case)
        for section in ("outcome", "sprg"):  # the SPRG's part is not the referrer's to clear
            if _is_empty(version.referral.get(section)) and not _is_empty(current.get(section)):
                version.referral[section] = current[section]
        case_store.add_version(ctx.session, ctx.vault, case, ctx.now, version)
        flag_on_arrival(
            ctx.session, ctx.vault, ctx.outbound, ctx.now, case, version.referral, ctx.settings.team_address
        )
        audit(
            ctx.session,
            ctx.now,
            BOT,
            "case.updated",
            case_id=case.id,
            message_id=ctx.row.id,
            detail=f"version {case.current_version}, status {case.status}",
        )
        acknowledge(ctx, [note_for(case.ref, version, "updated")], case.key_id)
        return [case.ref]


class RecordDecision:
    """The team emailed the form's outcome section: record it as the SPRG decision."""

    def apply(self, ctx: ActionContext, outcome: SprgDecision) -> list[str]:
        case = ctx.case(outcome)
        ctx.link(case)
        keep_attachments(ctx, case, outcome.verdicts)
        decisions.record(
            ctx.session,
            ctx.vault,
            ctx.outbound,
            ctx.now,
            case,
            outcome.decision,
            actor=BOT,
            source="email",
            message_row_id=ctx.row.id,
            force=outcome.force,
        )
        ctx.reply("sprg_decision_recorded", "SPRG decision recorded", [case.ref], case.key_id, ref=case.ref)
        return [case.ref]
