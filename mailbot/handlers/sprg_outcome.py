"""The SPRG outcome section, emailed back by the team: a decision to record.

Only a sender in ``MAILBOT_TEAM_SENDERS`` may record a decision this way. The case is
the one the subject tags (or the thread points at), else the open case about the same
child as the form. An outcome section from anyone else, or one that matches no case,
is not a decision: the message goes on to the usual handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailbot.handlers.base import CaseSummary, HandlerContext, Outcome
from mailbot.handlers.followup import target_cases
from mailbot.mail.reader import InboundMessage
from mailbot.sprg.outcome import decision_of


@dataclass
class DecisionOutcome(Outcome):
    """``merge_followup`` carrying the decision read from the form (FIELDS.md shape)."""

    decision: dict[str, Any] = field(default_factory=dict)


def _store(ctx: HandlerContext) -> tuple[Any, Any] | None:
    # The lookup the core hands in is the store's (``DbCaseLookup``); matching a case by
    # the child's blind index needs its session and vault. A lookup without them (a test
    # double) simply cannot match by child.
    session = getattr(ctx.cases, "session", None)
    vault = getattr(ctx.cases, "vault", None)
    return (session, vault) if session is not None and vault is not None else None


def _same_child(ctx: HandlerContext, referral: dict[str, Any]) -> CaseSummary | None:
    store = _store(ctx)
    if store is None:
        return None
    from mailbot.sprg.decisions import find_by_child

    case = find_by_child(*store, referral)
    return ctx.cases.by_ref(case.ref) if case is not None else None


def _about_other_child(ctx: HandlerContext, case: CaseSummary, referral: dict[str, Any]) -> bool:
    """A tag that names one case on a form about another child is not a decision."""
    store = _store(ctx)
    if store is None:
        return False
    from mailbot.sprg.decisions import child_mismatch

    return child_mismatch(*store, case.id, referral)


def handle_sprg_outcome(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
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
        case = targets[0] if targets else _same_child(ctx, verdict.form.referral)
        if case is None or _about_other_child(ctx, case, verdict.form.referral):
            continue
        return DecisionOutcome("merge_followup",
                               f"SPRG outcome for {case.ref} from the team; decision recorded",
                               verdicts=verdicts, case=case, decision=decision)
    return None
