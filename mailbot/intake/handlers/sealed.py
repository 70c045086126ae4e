"""Referrals the bot cannot open, though the referrer did everything right (issue 14).

Many senders' policies require protection: the referral arrives as a secure-portal
notice (Egress "You have received a secure message", NHSmail ``[secure]`` delivered
through a portal, Microsoft Purview Message Encryption's ``message.rpmsg`` and
``message.html``, CJSM-style notices), as S/MIME encrypted mail with no key configured
for the mailbox, or with a password-protected form. Asking such a referrer to "send the
form" is wrong; so each opens a case for a person (``manual_entry``), the referrer is
told in plain words that it arrived and a person will open it (or phone for the
password), and the team is alerted with the case's reference.

Only a message that carries no readable form is judged here: a referral with a form
and a portal footer is an ordinary referral.
"""

from __future__ import annotations

import re

from mailbot.forms.model import AttachmentVerdict
from mailbot.forms.safezip import LOCKED_FILE
from mailbot.intake.handlers.base import HandlerContext, NewCases, Outcome
from mailbot.mail.reader import InboundMessage

#: Microsoft's rights-protected message (``message.rpmsg``): its first bytes.
RPMSG_MAGIC = b"\x76\xe8\x04\x60\xc4\x11\xe3\x86"
_RPMSG_TYPES = ("application/x-microsoft-rpmsg-message", "application/x-microsoft-rpmsg")
#: What the notices say (Egress, NHSmail's portal, Purview, CJSM), in their own words.
_NOTICE = re.compile(
    r"received an? (?:new )?(?:secure|encrypted|protected) (?:e-?mail|message)"
    r"|\b(?:read|view|open|access) (?:the|this|your) (?:secure|encrypted|protected) "
    r"(?:e-?mail|message)"
    r"|message encryption\b"
    r"|secure (?:e-?mail|message|messaging) (?:portal|service)"
    r"|\bcjsm\b.{0,300}\bsecure\b|\bsecure\b.{0,300}\bcjsm\b",
    re.IGNORECASE | re.DOTALL,
)
#: NHSmail's and others' subject marker for "send this encrypted".
_SECURE_TAG = re.compile(r"\[\s*(?:secure|encrypt(?:ed)?)\s*\]", re.IGNORECASE)
_HTML_PEEK = 200_000

PORTAL_REASON = "secure message: open it in the portal"
ENCRYPTED_REASON = "sent encrypted; the team will open it"
LOCKED_REASON = "password-protected attachment; the team will phone the referrer for the password"

_ALERTS = {
    "portal": "A message arrived as a secure-portal notice (for example Egress, NHSmail or "
    "Microsoft 365 Message Encryption): the referral itself is in the sender's "
    "portal. Please open it there and enter the form on the case. The referrer has "
    "been told it arrived and that a person will open it.",
    "encrypted": "A message arrived S/MIME encrypted and the bot has no key to open it "
    "(mail.smime_key). Please open it in a mail client that holds the mailbox's "
    "certificate and enter the form on the case. The referrer has been told a "
    "person will open it.",
    "password": "A referral form arrived protected with a password. Please phone the "
    "referrer for the password (never by e-mail), open the file kept with the "
    "case and enter the form. The referrer has been told to expect the call.",
}


def is_locked(verdict: AttachmentVerdict) -> bool:
    """A file refused only because it is protected with a password."""
    return verdict.kind == "reject" and verdict.reason == LOCKED_FILE


def portal_notice(msg: InboundMessage) -> bool:
    """A secure-portal notice or a rights-protected message, by its parts and words."""
    for attachment in msg.attachments:
        if attachment.data.startswith(RPMSG_MAGIC) or attachment.content_type in _RPMSG_TYPES:
            return True
        if attachment.content_type == "text/html" and _NOTICE.search(
            attachment.data[:_HTML_PEEK].decode("utf-8", "replace")
        ):
            return True
    if _SECURE_TAG.search(msg.subject) and not msg.attachments:
        return True
    return bool(_NOTICE.search(msg.subject + "\n" + msg.text[:20_000]))


def _sealed(how: str, reason: str, verdicts: list[AttachmentVerdict]) -> NewCases:
    return NewCases(
        action="manual_entry", manual=True, sealed=how, reason=reason, verdicts=verdicts, alert=_ALERTS[how]
    )


def handle_sealed(msg: InboundMessage, ctx: HandlerContext) -> Outcome | None:
    verdicts = ctx.read_forms(msg)
    if any(v.kind in ("form", "manual") for v in verdicts):
        return None
    if msg.wrapping.encrypted:
        return _sealed("encrypted", ENCRYPTED_REASON, verdicts)
    if any(is_locked(v) for v in verdicts):
        return _sealed("password", LOCKED_REASON, verdicts)
    if portal_notice(msg):
        return _sealed("portal", PORTAL_REASON, verdicts)
    return None
