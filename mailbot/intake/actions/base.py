"""What every action works with, and the steps several actions share.

An action runs inside the message's transaction: it writes cases, versions,
attachments and audit entries, and queues mail through ``Outbound``; it never sends
and never moves the message (the pipeline does both, after the commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.cases.referral import apply_fallbacks, missing_required
from mailbot.clock import london
from mailbot.forms import empty_referral, validate
from mailbot.forms.model import AttachmentVerdict, ParsedForm
from mailbot.forms.safezip import LOCKED_FILE
from mailbot.intake.handlers.base import Outcome
from mailbot.mail.reader import InboundMessage
from mailbot.outbound import limits
from mailbot.outbound.mail import Outbound, OutboundMail, Thread
from mailbot.settings import Settings
from mailbot.store.audit import audit
from mailbot.store.models import Attachment, Case, MessageCase
from mailbot.store.models import InboundMessage as MessageRow
from mailbot.store.sealed_blob import seal_pieces
from mailbot.store.vault import Vault

#: The actor named in audit entries for what the bot does by itself.
BOT = "mailbot"
LIMIT_ALERT = (
    "The bot has stopped answering one sender automatically for today: {passed}. Their "
    "messages are still handled and recorded, but not answered. This is usually an "
    "auto-responder caught in a loop with the bot, or someone writing very often. Please "
    "look at the message below and contact the sender yourself if they need an answer. "
    "You will not be told again about this sender today."
)


@dataclass
class ActionContext:
    session: Session
    vault: Vault
    outbound: Outbound
    settings: Settings
    now: datetime
    message: InboundMessage
    row: MessageRow

    def link(self, case: Case) -> None:
        """Record that this message opened or fed the case."""
        self.session.add(MessageCase(message_id=self.row.id, case_id=case.id))

    def case(self, outcome: Outcome) -> Case:
        """The stored case an outcome points at (handlers only hold a summary)."""
        assert outcome.case is not None
        case = self.session.get(Case, outcome.case.id)
        assert case is not None
        return case

    def reply(self, template: str, subject: str, refs: list[str], key_id: str, **context: Any) -> None:
        """Answer the sender, and only the sender, threaded to their message; within the
        reply limits (``outbound.limits``), past which the message is only recorded."""
        msg = self.message
        if not msg.sender:
            return
        topic = limits.thread_topic(msg.message_id, msg.references, msg.in_reply_to)
        s = self.settings
        passed = limits.passed_limit(
            self.session,
            self.vault,
            self.now,
            msg.sender,
            topic,
            limits.ReplyLimits(s.reply_limit_hour, s.reply_limit_day),
        )
        if passed is not None:
            self.hold_reply(passed, refs)
            return
        follows = (
            Thread(msg.message_id, tuple(msg.references), msg.header("thread-index"))
            if msg.message_id
            else None
        )
        self.outbound.queue(
            self.session,
            self.now,
            OutboundMail(
                kind="reply",
                template=template,
                subject=subject,
                recipient=msg.sender,
                refs=refs,
                context=context,
                follows=follows,
                key_id=key_id,
                inbound_row_id=self.row.id,
                topic=topic,
            ),
        )

    def hold_reply(self, passed: str, refs: list[str]) -> None:
        """Past a reply limit: recorded, not answered; the team told once a day."""
        sender = self.message.sender or ""
        self.row.reason += f"; not answered: {passed}"
        audit(self.session, self.now, BOT, "reply.limited", message_id=self.row.id, detail=passed)
        team = self.settings.team_address
        if not team or limits.team_told(self.session, self.vault, sender, self.now):
            return
        self.outbound.queue(
            self.session,
            self.now,
            OutboundMail(
                kind="alert",
                template="alert",
                subject="Action needed: automatic replies stopped",
                recipient=team,
                refs=refs,
                key_id=self.row.key_id,
                inbound_row_id=self.row.id,
                topic=limits.limit_topic(sender, self.now),
                context={
                    "text": LIMIT_ALERT.format(passed=passed),
                    "ref": ", ".join(refs) or None,
                    "message_row_id": self.row.id,
                    "reason": self.row.reason,
                    "folder": self.row.target_folder,
                },
            ),
        )


class ActionStrategy(Protocol):
    """Carries out one kind of outcome; returns the references of the cases it touched."""

    def apply(self, ctx: ActionContext, outcome: Any) -> list[str]: ...


def build_version(ctx: ActionContext, form: ParsedForm | None) -> case_store.VersionInput:
    """A referral version from a form (or an empty one), fallbacks applied and checked."""
    referral = form.referral if form else empty_referral()
    completed, fallbacks = apply_fallbacks(referral, ctx.message.sender, ctx.message.date or ctx.now)
    queries = [q.as_json() for q in (form.queries if form else [])]
    today = london(ctx.now).date()
    queries += [q.as_json() for q in validate(completed, today=today, received_year=today.year)]
    unique = list({(q["field"], q["problem"]): q for q in queries}.values())
    return case_store.VersionInput(
        referral=completed,
        provenance=form.provenance if form else {},
        source="form" if form else "email",
        fallbacks=fallbacks,
        missing=missing_required(completed),
        queries=unique,
        created_by=BOT,
        message_row_id=ctx.row.id,
        subject=ctx.message.subject,
    )


def keep_attachments(ctx: ActionContext, case: Case, verdicts: list[AttachmentVerdict]) -> None:
    """The original files stay with the case (encrypted): forms, scans, other papers."""
    for verdict in verdicts:
        if verdict.kind == "reject" and verdict.reason != LOCKED_FILE:
            continue  # a locked form is kept: a person opens it with the password
        data = memoryview(verdict.data)  # sealed in pieces from the bytes we hold: no copy
        kind = {"form": "form", "manual": "manual", "reject": "manual"}.get(verdict.kind, "other")
        att = Attachment(
            case_id=case.id,
            message_id=ctx.row.id,
            key_id=case.key_id,
            content_type=verdict.content_type,
            size=data.nbytes,
            kind=kind,
        )
        att.filename_enc = ctx.vault.seal_text(ctx.session, att, "filename_enc", verdict.filename)
        ctx.session.add(att)
        seal_pieces(ctx.session, ctx.vault, att, "data_enc", data)
