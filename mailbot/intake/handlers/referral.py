"""New referrals: a COC form attached, or plainly about a referral without one.

The CSCP address is also the partnership's general mailbox: minutes, spreadsheets,
pictures and scripts arrive there too. An attachment the bot cannot open is answered
("it looks damaged, please send the form again") only when something says it is meant
to be the form: the message is about a referral, or mentions a form, or the file's name
does. Otherwise it is general correspondence (``not_referral``), filed in Other.
"""

from __future__ import annotations

import re
from datetime import timedelta

from mailbot.cases.lookup import CaseSummary
from mailbot.cases.referral import REQUIRED_FIELDS, apply_fallbacks, missing_required
from mailbot.forms.model import AttachmentVerdict
from mailbot.intake.handlers.base import Filed, FollowUp, HandlerContext, NewCases, Outcome, Rejected
from mailbot.mail.reader import InboundMessage

#: Words that make a message plainly about a referral even without a form.
_ABOUT_REFERRAL = re.compile(
    r"\b(referr(al|als|ing|ed)|case of concern|coc\b|refer a|safeguarding concern)", re.IGNORECASE
)
#: "Please find attached" with nothing attached: the form was forgotten.
_ATTACHED = re.compile(r"\b(please )?(find|see) (the )?attached\b|\battached (is|please find)", re.IGNORECASE)
#: A message that mentions a form (``about_referral`` covers the rest of its words).
_FORM_WORD = re.compile(r"\bforms?\b", re.IGNORECASE)
#: A file named like the form: ``COC form.docx``, ``CoCForm_v2.pdf``, ``referral.docx``
#: (not ``information.pdf``, ``platform.xlsx`` or ``performance.docx``).
_FORM_NAME = re.compile(r"coc|concern|referr|(?<!in)(?<!plat)(?<!per)(?<!trans)(?<!uni)form", re.IGNORECASE)


def about_referral(msg: InboundMessage) -> bool:
    text = msg.subject + "\n" + msg.text[:5000]
    if _ABOUT_REFERRAL.search(text):
        return True
    return not msg.attachments and bool(_ATTACHED.search(text))


def meant_as_form(msg: InboundMessage, rejected: list[AttachmentVerdict]) -> bool:
    """Whether an attachment the bot could not open is meant to be the form."""
    if about_referral(msg) or _FORM_WORD.search(msg.subject + "\n" + msg.text[:5000]):
        return True
    return any(_FORM_NAME.search(v.filename) for v in rejected)


def still_missing(msg: InboundMessage, ctx: HandlerContext, forms: list[AttachmentVerdict]) -> list[str]:
    """The required fields empty on any of the forms, after the fallbacks (keys only)."""
    missing: set[str] = set()
    for verdict in forms:
        assert verdict.form is not None
        completed, _used = apply_fallbacks(verdict.form.referral, msg.sender, msg.date or ctx.now)
        missing.update(missing_required(completed))
    return sorted(missing, key=REQUIRED_FIELDS.index)


def resent_case(
    msg: InboundMessage, ctx: HandlerContext, forms: list[AttachmentVerdict]
) -> CaseSummary | None:
    """The open case this very referral already opened, when the same sender sends it
    again (a new Message-ID: another click on Send, a copy from another device)."""
    if len(forms) != 1 or not msg.sender or forms[0].form is None:
        return None
    completed, used = apply_fallbacks(forms[0].form.referral, msg.sender, msg.date or ctx.now)
    since = ctx.now - timedelta(days=ctx.resend_window_days)
    return ctx.cases.resent(msg.sender, completed, used, since, msg.subject)


def handle_referral(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    verdicts = ctx.read_forms(msg)
    forms = [v for v in verdicts if v.kind == "form" and v.form is not None]
    if forms:
        again = resent_case(msg, ctx, forms)
        if again is not None:
            return FollowUp(
                action="merge_followup",
                verdicts=verdicts,
                case=again,
                update_case=False,
                resent=True,
                reason=f"the same referral sent again; joined {again.ref}",
            )
        n = len(forms)
        reason = f"{n} referral form{'s' if n > 1 else ''} attached"
        missing = still_missing(msg, ctx, forms)
        if missing:  # keys, never values: the reason is stored in clear
            return NewCases(
                action="request_missing",
                verdicts=verdicts,
                reason=f"{reason}; required fields are empty: " + ", ".join(missing),
            )
        return NewCases(action="accept", reason=reason, verdicts=verdicts)
    manual = [v for v in verdicts if v.kind == "manual"]
    # A file the reader died on (a sandbox breach) is for a person only when it was
    # meant as the form; a scan always is.
    if manual and (any(v.breach is None for v in manual) or meant_as_form(msg, manual)):
        return NewCases(
            action="manual_entry",
            manual=True,
            verdicts=verdicts,
            reason="the form cannot be read by machine (e.g. a scan); a person will enter it",
            alert="A referral form arrived that cannot be read automatically (for example a "
            "scan). Please open the case, read the attached form and enter it; the "
            "referrer has been told a person will do this.",
        )
    rejected = [v for v in verdicts if v.kind == "reject"]
    if rejected and meant_as_form(msg, rejected):
        reasons = "; ".join(dict.fromkeys(v.reason or "" for v in rejected))
        return Rejected(
            action="reject_attachment", reason=f"attachment not opened: {reasons}", verdicts=verdicts
        )
    if about_referral(msg):
        return NewCases(
            action="request_missing",
            wants_form=True,
            verdicts=verdicts,
            reason="about a referral but no COC form is attached; ask for the form",
        )
    return None


def handle_correspondence(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    return Filed(
        action="not_referral",
        reason="general correspondence: no form, no case tag, "
        "nothing about a referral; left for the team in Other",
    )
