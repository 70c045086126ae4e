"""Follow-ups: a message about an existing case, recognised by tag or by threading.

The sender rule (INTERFACE.md) protects the case: only the case's own sender or its
referrer's address may change it. Anyone else pointing at a case is held for a person,
linked to the case, so a mistyped tag or a forwarded thread cannot alter a referral.
A From header proves nothing without sender authentication, so the form itself is
checked too: a form naming a different child (name or date of birth) is held, whoever
sent it.
"""

from __future__ import annotations

from mailbot.cases.lookup import CaseSummary
from mailbot.intake.handlers.base import FollowUp, HandlerContext, Held, Outcome, Rejected
from mailbot.intake.handlers.sealed import is_locked
from mailbot.mail.reader import InboundMessage


def target_cases(msg: InboundMessage, ctx: HandlerContext) -> list[CaseSummary]:
    found: dict[str, CaseSummary] = {}
    for ref in msg.case_tags:  # at most ten, read once by the reader
        case = ctx.cases.by_ref(ref)
        if case is not None:
            found.setdefault(case.id, case)
    for message_id in msg.referenced_ids():
        case = ctx.cases.by_sent_message_id(message_id)
        if case is not None:
            found.setdefault(case.id, case)
    return list(found.values())


def handle_followup(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    cases = target_cases(msg, ctx)
    if not cases:
        return None
    sender = msg.sender or ""
    own = cases if ctx.trusted else [c for c in cases if sender in c.senders]
    if not own:
        return Held(
            action="quarantine",
            reason=f"points at {cases[0].ref} but comes from a different sender; held for a person",
            case=cases[0],
            alert=f"A message about {cases[0].ref} came from someone other than the person "
            "who made the referral, so it has not been added to the case. Please read it "
            "under Held messages and release it if it belongs to the case.",
        )
    verdicts = ctx.read_forms(msg)
    forms = [v.form for v in verdicts if v.kind == "form" and v.form is not None]
    case = own[0]
    if forms and len(own) > 1:
        # A reply to an acknowledgement of several cases: the form says which child.
        matching = [c for c in own if ctx.cases.same_child(c, forms[0].referral)]
        if len(matching) != 1:
            refs = ", ".join(c.ref for c in own)
            return Held(
                action="quarantine",
                reason=f"reply names {refs} and its form matches not exactly one of them; held for a person",
                verdicts=verdicts,
                case=own[0],
                alert=f"A reply about {refs} carries a form that we "
                "could not match to one of those cases, so nothing was changed. "
                "Please read it under Held messages.",
            )
        case = matching[0]
    if not ctx.trusted and any(ctx.cases.same_child(case, f.referral) is False for f in forms):
        # Whoever sent it: a form about another child never changes this case, and the
        # referrer is not told it did. A person who releases it vouches for it.
        return Held(
            action="quarantine",
            reason=f"reply about {case.ref} carries a form about "
            "a different child (name or date of birth); held for a person",
            verdicts=verdicts,
            case=case,
            alert=f"A reply about {case.ref} carries a form whose child's name or date "
            "of birth is not the case's, so nothing was changed and nobody was "
            "told anything. Please read it under Held messages: release it only "
            "if it corrects this case.",
        )
    if forms and not case.status.open_to_referrer:
        return FollowUp(
            action="merge_followup",
            reason=f"form for {case.ref}, which is {case.status}: kept "
            "with the case for the team, not applied",
            verdicts=verdicts,
            case=case,
            update_case=False,
            alert=f"A new form arrived for {case.ref}, which is already "
            f"{case.status.phrase}. It is kept with the case but "
            "has not changed it: please compare it with the case and decide what to "
            "change.",
        )
    if forms:
        return FollowUp(
            action="merge_followup",
            reason=f"reply about {case.ref} carrying a form",
            verdicts=verdicts,
            case=case,
        )
    rejected = [v for v in verdicts if v.kind == "reject"]
    if rejected and all(is_locked(v) for v in rejected):
        return FollowUp(
            action="merge_followup",
            verdicts=verdicts,
            case=case,
            update_case=False,
            locked=True,
            reason=f"reply about {case.ref} with a password-protected form; the "
            "team will phone the referrer for the password",
            alert=f"The referrer sent a password-protected form for {case.ref}. Please phone "
            "them for the password (never by e-mail), open the file kept with the case "
            "and enter the form.",
        )
    if rejected:
        return Rejected(
            action="reject_attachment",
            reason=f"reply about {case.ref} with an attachment that cannot be opened",
            verdicts=verdicts,
            case=case,
        )
    return FollowUp(
        action="merge_followup",
        reason=f"reply about {case.ref} without a form; the team will read it",
        verdicts=verdicts,
        case=case,
        alert=f"The referrer replied about {case.ref} without a form. Please read their "
        "message (in the mailbox's Processed folder, and on the case in the workspace).",
    )
