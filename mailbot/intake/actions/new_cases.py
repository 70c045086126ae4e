"""``accept``, ``request_missing``, ``manual_entry``: open a case per form and answer."""

from __future__ import annotations

from mailbot.cases import store as case_store
from mailbot.cases.serious import flag_on_arrival
from mailbot.forms import field_label
from mailbot.intake.actions.acknowledge import CaseNote, acknowledge, note_for, ordinal
from mailbot.intake.actions.base import BOT, ActionContext, build_version, keep_attachments
from mailbot.intake.handlers.base import NewCases
from mailbot.store.audit import audit
from mailbot.store.models import Case

#: The reply's subject when a referral arrived in a form the bot cannot open itself.
SEALED_SUBJECTS = {
    "portal": "Referral received - the CSCP team will open your secure message",
    "encrypted": "Referral received - the CSCP team will open your encrypted message",
    "password": "Referral received - the CSCP team will phone you for the password",
}


class OpenCases:
    def apply(self, ctx: ActionContext, outcome: NewCases) -> list[str]:
        sender = ctx.message.sender or ""
        notes: list[CaseNote] = []
        created: list[Case] = []
        if outcome.manual:
            case = case_store.open_case(
                ctx.session, ctx.vault, ctx.now, sender, build_version(ctx, None), manual=True
            )
            created.append(case)
            notes.append(CaseNote(case.ref, "received - the CSCP team will enter your form", manual=True))
        elif outcome.forms:
            for number, verdict in enumerate(outcome.forms):
                version = build_version(ctx, verdict.form)
                case = case_store.open_case(ctx.session, ctx.vault, ctx.now, sender, version)
                created.append(case)
                # A date of death: a serious incident, and the team hears at once.
                flag_on_arrival(
                    ctx.session,
                    ctx.vault,
                    ctx.outbound,
                    ctx.now,
                    case,
                    version.referral,
                    ctx.settings.team_address,
                )
                note = note_for(case.ref, version, "received")
                note.position = ordinal(number)
                notes.append(note)
        else:  # about a referral, but no form: a case that waits for it
            created.append(
                case_store.open_case(ctx.session, ctx.vault, ctx.now, sender, build_version(ctx, None))
            )
        for case in created:
            ctx.link(case)
            audit(
                ctx.session,
                ctx.now,
                BOT,
                "case.opened",
                case_id=case.id,
                message_id=ctx.row.id,
                detail=f"status {case.status}",
            )
        first = created[0]
        keep_attachments(ctx, first, outcome.verdicts)
        if outcome.sealed:
            ctx.reply(
                "sealed_received",
                SEALED_SUBJECTS[outcome.sealed],
                [first.ref],
                first.key_id,
                ref=first.ref,
                how=outcome.sealed,
            )
        elif outcome.wants_form:
            ctx.reply(
                "request_form",
                "Please send the referral form",
                [first.ref],
                first.key_id,
                ref=first.ref,
                missing=[field_label(key) for key in first.missing_required],
            )
        else:
            acknowledge(ctx, notes, first.key_id)
        return [case.ref for case in created]
