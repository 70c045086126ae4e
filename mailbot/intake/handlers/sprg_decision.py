"""The SPRG outcome section, emailed back by the team: a decision to record.

Only a sender in ``MAILBOT_TEAM_SENDERS`` may record a decision this way. The case is
the one the subject tags (or the thread points at), else the open case about the same
child as the form. An outcome section from anyone else, or one that matches no case,
is not a decision: the message goes on to the usual handlers.
"""

from __future__ import annotations

from mailbot.intake.handlers.base import HandlerContext, Outcome, SprgDecision
from mailbot.intake.handlers.followup import target_cases
from mailbot.mail.reader import InboundMessage
from mailbot.sprg.decision_form import decision_of


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
        return SprgDecision(action="merge_followup",
                            reason=f"SPRG outcome for {case.ref} from the team; decision recorded",
                            verdicts=verdicts, case=case, decision=decision)
    return None
