"""The core acts on a handler's outcome: cases, versions, attachments, replies, alerts.

Everything here runs inside the message's transaction. Replies are composed now (with
their Message-IDs fixed) and queued in the outbox; nothing is sent from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import Environment
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.cases.referral import REQUIRED_FIELDS as REQUIRED_ORDER
from mailbot.cases.referral import apply_fallbacks, missing_required
from mailbot.clock import london
from mailbot.forms import empty_referral, field_label, validate
from mailbot.forms.model import AttachmentVerdict, ParsedForm
from mailbot.intake.handlers import Outcome
from mailbot.mail.reader import InboundMessage
from mailbot.outbound import outbox
from mailbot.outbound.compose import compose, make_message_id, render, tag_subject
from mailbot.settings import Settings
from mailbot.sprg import decisions as sprg_decisions
from mailbot.store.models import Attachment, Case, MessageCase
from mailbot.store.models import InboundMessage as MessageRow
from mailbot.store.vault import Vault

BOT = "mailbot"
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth")


@dataclass
class CaseNote:
    """One case's part of a reply: reference, headline, and what to ask."""

    ref: str
    headline: str
    missing: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    manual: bool = False
    #: Which attachment it came from, in words ("the first form"), when there are several.
    position: str = ""


class OutcomeApplier:
    def __init__(self, settings: Settings, vault: Vault, env: Environment) -> None:
        self.settings = settings
        self.vault = vault
        self.env = env

    # -- entry point -------------------------------------------------------------------
    def __call__(self, session: Session, msg: InboundMessage, row: MessageRow,
                 outcome: Outcome, now: datetime) -> list[str]:
        action = outcome.action
        refs: list[str] = []
        if action in ("accept", "request_missing", "manual_entry") and outcome.case is None:
            refs = self._new_cases(session, msg, row, outcome, now)
        elif action == "merge_followup" and isinstance(getattr(outcome, "decision", None), dict):
            refs = self._sprg_decision(session, msg, row, outcome, now)
        elif action == "merge_followup":
            refs = self._followup(session, msg, row, outcome, now)
        elif action == "reject_attachment":
            self._reply_reject(session, msg, row, outcome, now)
            if outcome.case:
                refs = [outcome.case.ref]
                session.add(MessageCase(message_id=row.id, case_id=outcome.case.id))
        case_store.audit(session, now, BOT, f"message.{row.action}", message_id=row.id,
                         case_id=outcome.case.id if outcome.case else None,
                         detail=row.reason)
        if outcome.alert:
            self._alert(session, row, outcome, now, refs)
        return refs

    # -- new cases ---------------------------------------------------------------------
    def _version(self, msg: InboundMessage, row: MessageRow, form: ParsedForm | None,
                 now: datetime) -> case_store.VersionInput:
        referral = form.referral if form else empty_referral()
        completed, fallbacks = apply_fallbacks(referral, msg.sender, msg.date or now)
        missing = missing_required(completed)
        queries = [q.as_json() for q in (form.queries if form else [])]
        today = london(now).date()
        queries += [q.as_json() for q in validate(completed, today=today,
                                                   received_year=today.year)]
        unique = list({(q["field"], q["problem"]): q for q in queries}.values())
        return case_store.VersionInput(
            referral=completed, provenance=form.provenance if form else {},
            source="form" if form else "email", fallbacks=fallbacks, missing=missing,
            queries=unique, created_by=BOT, message_row_id=row.id)

    def _new_cases(self, session: Session, msg: InboundMessage, row: MessageRow,
                   outcome: Outcome, now: datetime) -> list[str]:
        sender = msg.sender or ""
        forms = [v for v in outcome.verdicts if v.kind == "form" and v.form is not None]
        notes: list[CaseNote] = []
        created: list[Case] = []
        if outcome.action == "manual_entry":
            version = self._version(msg, row, None, now)
            case = case_store.open_case(session, self.vault, now, sender, version, manual=True)
            created.append(case)
            notes.append(CaseNote(case.ref, "received - the CSCP team will enter your form",
                                  manual=True))
        elif forms:
            for number, verdict in enumerate(forms):
                version = self._version(msg, row, verdict.form, now)
                case = case_store.open_case(session, self.vault, now, sender, version)
                created.append(case)
                note = self._note(case, version, "received")
                note.position = f"the {ORDINALS[number] if number < len(ORDINALS) else 'next'} form"
                notes.append(note)
        else:
            version = self._version(msg, row, None, now)
            case = case_store.open_case(session, self.vault, now, sender, version)
            created.append(case)
        for case in created:
            session.add(MessageCase(message_id=row.id, case_id=case.id))
            case_store.audit(session, now, BOT, "case.opened", case_id=case.id,
                             message_id=row.id, detail=f"status {case.status}")
        self._keep_attachments(session, row, created[0], outcome.verdicts, forms)
        if outcome.wants_form:
            row.action = "request_missing"
            self._reply_request_form(session, msg, row, created[0], now)
        else:
            if outcome.action != "manual_entry":
                missing = sorted({k for c in created for k in c.missing_required},
                                 key=REQUIRED_ORDER.index)
                row.action = "request_missing" if missing else "accept"
                if missing:  # keys, never values: the reason is stored in clear
                    row.reason = (f"{row.reason}; required fields are empty: "
                                  + ", ".join(missing))
            self._reply_ack(session, msg, row, notes, now, created[0].key_id)
        return [case.ref for case in created]

    def _note(self, case: Case, version: case_store.VersionInput, verb: str) -> CaseNote:
        missing = [field_label(key) for key in version.missing]
        queries = [q["problem"] for q in version.queries]
        if missing:
            headline = f"{verb} - further information needed"
        elif queries:
            headline = f"{verb} - please check some details"
        else:
            headline = f"{verb} - complete"
        return CaseNote(case.ref, headline, missing, queries)

    def _keep_attachments(self, session: Session, row: MessageRow, case: Case,
                          verdicts: list[AttachmentVerdict], forms: list[AttachmentVerdict]
                          ) -> None:
        """The original files stay with the case (encrypted): forms, scans, other papers."""
        for verdict in verdicts:
            if verdict.kind == "reject":
                continue
            data = getattr(verdict, "data", None)
            if not isinstance(data, bytes | bytearray):
                continue
            kind = {"form": "form", "manual": "manual"}.get(verdict.kind, "other")
            att = Attachment(case_id=case.id, message_id=row.id, key_id=case.key_id,
                             content_type=verdict.content_type, size=len(data), kind=kind)
            att.filename_enc = self.vault.seal_text(session, att, "filename_enc",
                                                    verdict.filename)
            att.data_enc = self.vault.seal(session, att, "data_enc", bytes(data))
            session.add(att)

    # -- follow-ups --------------------------------------------------------------------
    def _followup(self, session: Session, msg: InboundMessage, row: MessageRow,
                  outcome: Outcome, now: datetime) -> list[str]:
        assert outcome.case is not None
        case = session.get(Case, outcome.case.id)
        assert case is not None
        session.add(MessageCase(message_id=row.id, case_id=case.id))
        forms = [v for v in outcome.verdicts if v.kind == "form" and v.form is not None]
        self._keep_attachments(session, row, case, outcome.verdicts, forms)
        if not forms or not outcome.update_case:
            return [case.ref]
        version = self._version(msg, row, forms[0].form, now)
        current, _row = case_store.load_referral(session, self.vault, case)
        for section in ("outcome", "sprg"):  # the SPRG's part is not the referrer's to clear
            if _is_empty(version.referral.get(section)) and not _is_empty(current.get(section)):
                version.referral[section] = current[section]
        case_store.add_version(session, self.vault, case, now, version)
        case_store.audit(session, now, BOT, "case.updated", case_id=case.id, message_id=row.id,
                         detail=f"version {case.current_version}, status {case.status}")
        note = self._note(case, version, "updated")
        self._reply_ack(session, msg, row, [note], now, case.key_id)
        return [case.ref]

    def _sprg_decision(self, session: Session, msg: InboundMessage, row: MessageRow,
                       outcome: Outcome, now: datetime) -> list[str]:
        """The team emailed the form's outcome section: record it as the SPRG decision."""
        assert outcome.case is not None
        case = session.get(Case, outcome.case.id)
        assert case is not None
        session.add(MessageCase(message_id=row.id, case_id=case.id))
        self._keep_attachments(session, row, case, outcome.verdicts, [])
        sprg_decisions.record(session, self.vault, self.settings, self.env, now, case,
                              outcome.decision, actor=BOT, source="email",  # type: ignore[attr-defined]
                              message_row_id=row.id)
        self._queue_reply(session, msg, row, [case.ref], "SPRG decision recorded",
                          "sprg_decision_recorded", case.key_id, now, ref=case.ref)
        return [case.ref]

    # -- replies -----------------------------------------------------------------------
    def _queue_reply(self, session: Session, msg: InboundMessage, row: MessageRow,
                     refs: list[str], subject: str, template: str, key_id: str,
                     now: datetime, **context: Any) -> None:
        if not msg.sender:
            return
        rendered = render(self.env, template, tag_subject(refs, subject),
                          urgent_contact=self.settings.urgent_contact, **context)
        message_id = make_message_id("reply", refs, now, self.settings.bot_domain)
        email = compose(rendered=rendered, sender=self.settings.mail_from, recipient=msg.sender,
                        message_id=message_id, date=now, in_reply_to=msg.message_id,
                        references=msg.references)
        outbox.queue(session, self.vault, now, email, kind="reply", recipient=msg.sender,
                     case_refs=refs, key_id=key_id, in_reply_to=row.id)

    def _reply_ack(self, session: Session, msg: InboundMessage, row: MessageRow,
                   notes: list[CaseNote], now: datetime, key_id: str) -> None:
        any_missing = any(n.missing or n.queries for n in notes)
        plural = "s" if len(notes) > 1 else ""
        if any(n.manual for n in notes):
            subject = f"Referral{plural} received - the CSCP team will enter your form"
        elif any(n.missing for n in notes):
            subject = f"Referral{plural} received - further information needed"
        elif any(n.queries for n in notes):
            subject = f"Referral{plural} received - please check some details"
        elif all(n.headline.startswith("updated") for n in notes):
            subject = "Referral updated - now complete"
        else:
            subject = f"Referral{plural} received"
        self._queue_reply(session, msg, row, [n.ref for n in notes], subject, "acknowledgement",
                          key_id, now, cases=notes, any_missing=any_missing,
                          any_manual=any(n.manual for n in notes),
                          updated=all(n.headline.startswith("updated") for n in notes))

    def _reply_request_form(self, session: Session, msg: InboundMessage, row: MessageRow,
                            case: Case, now: datetime) -> None:
        missing = [field_label(key) for key in case.missing_required]
        self._queue_reply(session, msg, row, [case.ref], "Please send the referral form",
                          "request_form", case.key_id, now, ref=case.ref, missing=missing)

    def _reply_reject(self, session: Session, msg: InboundMessage, row: MessageRow,
                      outcome: Outcome, now: datetime) -> None:
        reasons = [v.reason or "the file could not be opened" for v in outcome.verdicts
                   if v.kind == "reject"]
        refs = [outcome.case.ref] if outcome.case else []
        self._queue_reply(session, msg, row, refs, "Your attachment could not be opened",
                          "reject_attachment", row.key_id, now,
                          ref=outcome.case.ref if outcome.case else None, reasons=reasons)

    def _alert(self, session: Session, row: MessageRow, outcome: Outcome, now: datetime,
               case_refs: list[str]) -> None:
        team = self.settings.team_address
        if not team:
            return
        refs = [outcome.case.ref] if outcome.case else case_refs
        ref = ", ".join(refs) or None
        rendered = render(self.env, "alert", tag_subject(refs, "Action needed: " +
                                                           _alert_topic(row.action, outcome)),
                          text=outcome.alert, ref=ref, message_row_id=row.id,
                          reason=row.reason, folder=row.target_folder)
        email = compose(rendered=rendered, sender=self.settings.mail_from, recipient=team,
                        message_id=make_message_id("alert", refs, now, self.settings.bot_domain),
                        date=now, auto="auto-generated")
        outbox.queue(session, self.vault, now, email, kind="alert", recipient=team,
                     case_refs=refs, key_id=row.key_id, in_reply_to=row.id)


def _is_empty(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_is_empty(v) for v in value.values())
    return value in (None, "", [])


def _alert_topic(action: str, outcome: Outcome) -> str:
    if action == "merge_followup" and not outcome.update_case:
        return "a new form for a case already in progress"
    return {"quarantine": "a message is held for checking",
            "merge_followup": "a reply without a form to read",
            "manual_entry": "a form to enter by hand"}.get(action, "a message to read")
