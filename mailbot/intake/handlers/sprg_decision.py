"""The SPRG outcome section, emailed back by the team: a decision to record.

Only a sender in ``MAILBOT_TEAM_SENDERS`` may record a decision this way, and only when
our own receiving side vouches for that sender (``msg.auth.authenticated``: DMARC pass
for the From's own domain, or Exchange Online's mark of mail sent inside our tenant,
as ``mail.sender_auth`` says). Anyone can type a team address into From; a decision
from a team address we cannot authenticate is held for a person, linked to the case,
and the team confirms it in one step (releasing it records the decision). So is a
decision for a meeting that has not happened yet: the referrer must not be told of a
decision before the meeting that makes it.

The case is the one the subject tags (or the thread points at), else the open case
about the same child as the form. An outcome section from anyone else, or one that
matches no case, is not a decision: the message goes on to the usual handlers.
"""

from __future__ import annotations

from mailbot.clock import london, uk_date
from mailbot.intake.handlers.base import HandlerContext, Held, Outcome, SprgDecision
from mailbot.intake.handlers.followup import target_cases
from mailbot.mail.reader import InboundMessage
from mailbot.sprg.decision_form import HELD_DECISION, decision_of, meeting_not_yet_held


def handle_sprg_decision(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    if not msg.sender or msg.sender not in ctx.team_senders:
        return None
    verdicts = ctx.read_forms(msg)
    for verdict in verdicts:
        if verdict.kind != "form" or verdict.form is None:
            continue
        decision = decision_of(verdict.form.referral)
        if decision is None:
            continue
        targets = target_cases(msg, ctx)
        case = targets[0] if targets else ctx.cases.by_child(verdict.form.referral)
        # A tag that names one case on a form about another child is not a decision.
        if case is None or ctx.cases.same_child(case, verdict.form.referral) is False:
            continue
        if ctx.trusted:  # a person confirmed it (a released hold)
            return SprgDecision(
                action="merge_followup",
                verdicts=verdicts,
                case=case,
                decision=decision,
                reason=f"SPRG outcome for {case.ref} confirmed by the team; decision recorded",
            )
        why = None
        if not msg.auth.authenticated:
            why = f"the team address could not be authenticated ({msg.auth.reason})"
        elif (day := meeting_not_yet_held(decision, case.meeting_date, london(ctx.now).date())) is not None:
            why = f"the meeting of {uk_date(day)} has not happened yet"
        if why is not None:
            return Held(
                action="quarantine",
                verdicts=verdicts,
                case=case,
                reason=f"{HELD_DECISION} for {case.ref} held for the team to confirm: {why}",
                alert=f"An SPRG outcome for {case.ref} arrived by e-mail from a team address, "
                f"but it has not been recorded: {why}. If the team sent it, please "
                "confirm it under Held messages; nobody has been told anything.",
            )
        return SprgDecision(
            action="merge_followup",
            reason=f"SPRG outcome for {case.ref} from the team; decision recorded",
            verdicts=verdicts,
            case=case,
            decision=decision,
        )
    return None
