"""New referrals: a COC form attached, or plainly about a referral without one."""

from __future__ import annotations

import re

from mailbot.handlers.base import HandlerContext, Outcome
from mailbot.mail.reader import InboundMessage

#: Words that make a message plainly about a referral even without a form.
_ABOUT_REFERRAL = re.compile(
    r"\b(referr(al|ing|ed)|case of concern|coc\b|refer a|please find attached|"
    r"attached (is|please|the|a|my)|see attached|attachment|safeguarding concern)",
    re.IGNORECASE,
)


def about_referral(msg: InboundMessage) -> bool:
    return bool(_ABOUT_REFERRAL.search(msg.subject + "\n" + msg.text[:5000]))


def handle_referral(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    verdicts = ctx.read_forms(msg)
    forms = [v for v in verdicts if v.kind == "form"]
    if forms:
        n = len(forms)
        return Outcome("accept", f"{n} referral form{'s' if n > 1 else ''} attached",
                       verdicts=verdicts)
    if any(v.kind == "manual" for v in verdicts):
        return Outcome("manual_entry", "the form cannot be read by machine (e.g. a scan); "
                       "a person will enter it", verdicts=verdicts,
                       alert="A referral form needs to be read and entered by a person.")
    if any(v.kind == "reject" for v in verdicts):
        reasons = "; ".join(v.reason or "" for v in verdicts if v.kind == "reject")
        return Outcome("reject_attachment", f"attachment not opened: {reasons}",
                       verdicts=verdicts)
    if about_referral(msg):
        return Outcome("request_missing", "about a referral but no COC form is attached; "
                       "ask for the form", verdicts=verdicts, wants_form=True)
    return None


def handle_correspondence(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    return Outcome("not_referral", "general correspondence: no form, no case tag, nothing "
                   "about a referral; left for the team in Other")
