"""New referrals: a COC form attached, or plainly about a referral without one."""

from __future__ import annotations

import re

from mailbot.intake.handlers.base import HandlerContext, Outcome
from mailbot.mail.reader import InboundMessage

#: Words that make a message plainly about a referral even without a form.
_ABOUT_REFERRAL = re.compile(
    r"\b(referr(al|als|ing|ed)|case of concern|coc\b|refer a|safeguarding concern)",
    re.IGNORECASE,
)
#: "Please find attached" with nothing attached: the form was forgotten.
_ATTACHED = re.compile(r"\b(please )?(find|see) (the )?attached\b|\battached (is|please find)",
                       re.IGNORECASE)
#: Attachments that could be a form: a bad one of these is worth a plain-words reply.
_DOCUMENT_KINDS = {"docx", "pdf", "zip", "ole", "odt", "rtf"}


def about_referral(msg: InboundMessage) -> bool:
    text = msg.subject + "\n" + msg.text[:5000]
    if _ABOUT_REFERRAL.search(text):
        return True
    return not msg.attachments and bool(_ATTACHED.search(text))


def _could_be_form(msg: InboundMessage) -> bool:
    return about_referral(msg) or any(a.sniffed in _DOCUMENT_KINDS for a in msg.attachments)


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
                       alert="A referral form arrived that cannot be read automatically (for "
                             "example a scan). Please open the case, read the attached form and "
                             "enter it; the referrer has been told a person will do this.")
    if any(v.kind == "reject" for v in verdicts) and _could_be_form(msg):
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
