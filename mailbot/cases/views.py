"""What people and scripts see: the queue, one case, the messages, the quarantine.

Each view returns plain data (JSON-ready dicts); the CLI prints it as JSON or as a
table. Decrypting is done here, for the one purpose of showing it, and ``show`` writes
an audit entry every time it is used.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.cases.referral import get_path
from mailbot.clock import london
from mailbot.forms import field_label
from mailbot.store.models import Attachment, Case, InboundMessage, MessageCase, Outbox
from mailbot.store.vault import Vault

#: How each kind of message reads to a person (actions of INTERFACE.md, and our own mail).
KIND_WORDS = {
    "accept": "form received (complete)",
    "request_missing": "form received (incomplete)",
    "merge_followup": "follow-up added to the case",
    "ignore_auto": "automatic mail",
    "quarantine": "held for a person",
    "reject_attachment": "attachment could not be opened",
    "manual_entry": "form to enter by hand",
    "not_referral": "general correspondence",
    "reply": "reply sent",
    "alert": "alert to the team",
    "digest": "digest",
    "reminder": "reminder to the referrer",
}


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


SHORT_LABELS = {
    "referrer.name": "referrer's name", "referrer.role": "referrer's role",
    "referrer.agency": "agency", "referrer.email": "referrer's email",
    "referral_date": "referral date", "child.full_name": "child's name",
    "child.dob": "child's date of birth", "child.address": "child's address",
    "incident_details": "incident details", "anticipated_learning": "anticipated learning",
}


def short_label(key: str) -> str:
    return SHORT_LABELS.get(key) or field_label(key)


def waiting_for(case: Case) -> str:
    if case.status == "awaiting_information":
        if len(case.missing_required) >= 6:
            return "referrer: the referral form"
        parts = [short_label(k) for k in case.missing_required]
        parts += [f"check {short_label(q['field'])}" for q in case.queries]
        return "referrer: " + ", ".join(parts) if parts else "referrer"
    return {
        "manual_entry": "team: read the form and enter it by hand",
        "ready": "team: schedule to an SPRG meeting",
        "scheduled": "SPRG decision" + (f" at the meeting on {case.meeting_date:%d/%m/%Y}"
                                         if case.meeting_date else ""),
        "held": "team: held back from the agenda",
        "decided": "final report to the SPRG",
        "closed": "nothing (closed)",
    }.get(case.status, case.status)


def _case_item(session: Session, vault: Vault, case: Case) -> dict[str, Any]:
    referral, _row = case_store.load_referral(session, vault, case)
    return {
        "ref": case.ref,
        "status": case.status,
        "referrer_email": get_path(referral, "referrer.email"),
        "referring_agency": get_path(referral, "referrer.agency"),
        "received_at": iso(case.created_at),
        "missing_required": list(case.missing_required),
        "queries": list(case.queries),
        "themes": list(referral.get("themes") or []),
        "meeting_date": case.meeting_date.isoformat() if case.meeting_date else None,
        "waiting_for": waiting_for(case),
        "possible_duplicates": case_store.possible_duplicates(session, case),
        "days_waiting": None,
    }


def queue(session: Session, vault: Vault, now: datetime, status: str | None = None,
          due_by: date | None = None) -> list[dict[str, Any]]:
    """The queue; with ``due_by``, only decided cases whose final report is due by then."""
    stmt = select(Case).order_by(Case.created_at, Case.ref)
    if status:
        stmt = stmt.where(Case.status == status)
    due: dict[str, date] = {}
    if due_by is not None:
        from mailbot.sprg.final_reports import due_cases

        due = due_cases(session, due_by)
        stmt = stmt.where(Case.id.in_(list(due)))
    failed_refs = {ref for refs in session.scalars(
        select(Outbox.case_refs).where(Outbox.state == "failed")) for ref in refs or []}
    items = []
    for case in session.scalars(stmt):
        item = _case_item(session, vault, case)
        item["days_waiting"] = (london(now).date() - london(case.updated_at).date()).days
        item["reply_failed"] = case.ref in failed_refs
        if item["reply_failed"]:  # the referrer never heard from us: a person must act
            item["waiting_for"] = "team: a reply could not be delivered; " + item["waiting_for"]
        if case.id in due:
            late = due[case.id] < london(now).date()
            item["final_report_date"] = due[case.id].isoformat()
            item["final_report"] = "overdue" if late else "due"
            item["waiting_for"] = (f"final report to the SPRG by {due[case.id]:%d/%m/%Y}"
                                   + (" (overdue)" if late else ""))
        items.append(item)
    if due_by is not None:
        items.sort(key=lambda i: (i["final_report_date"], i["ref"]))
    return items


def _messages_of(session: Session, vault: Vault, case: Case) -> list[dict[str, Any]]:
    inbound = session.scalars(
        select(InboundMessage).outerjoin(MessageCase, MessageCase.message_id == InboundMessage.id)
        .where(or_(MessageCase.case_id == case.id, InboundMessage.linked_case_id == case.id))
        .distinct()).all()
    out: list[dict[str, Any]] = []
    order: dict[str, tuple[datetime, int]] = {}  # full-precision time; in before out
    for row in inbound:
        order[row.id] = (row.received_at, 0)
        out.append({"id": row.id, "received_at": iso(row.received_at),
                    "sender": vault.open_text(session, row, "sender_enc"),
                    "subject": vault.open_text(session, row, "subject_enc"),
                    "kind": row.action, "direction": "in"})
    # Narrowed in the database on the JSON list's text, then checked exactly here.
    tagged = cast(Outbox.case_refs, String).like(f'%"{case.ref}"%')
    for sent in session.scalars(select(Outbox).where(tagged).order_by(Outbox.created_at)):
        if case.ref not in (sent.case_refs or []):
            continue
        order[sent.id] = (sent.created_at, 1)
        out.append({"id": sent.id, "received_at": iso(sent.sent_at or sent.created_at),
                    "sender": None, "subject": sent.subject, "kind": sent.kind,
                    "direction": "out", "state": sent.state,
                    "to": vault.open_text(session, sent, "recipient_enc")})
    out.sort(key=lambda m: order[m["id"]])
    return out


def show(session: Session, vault: Vault, ref: str, *, from_address: str) -> dict[str, Any]:
    case = case_store.case_by_ref(session, ref)
    referral, version = case_store.load_referral(session, vault, case)
    provenance = vault.open_json(session, version, "provenance_enc", key_id=case.key_id)
    messages = _messages_of(session, vault, case)
    for message in messages:
        if message["direction"] == "out":
            message["sender"] = from_address
    attachments = [{"id": a.id, "filename": vault.open_text(session, a, "filename_enc"),
                    "content_type": a.content_type, "size": a.size, "kind": a.kind}
                   for a in session.scalars(select(Attachment).where(Attachment.case_id == case.id))]
    return {
        "ref": case.ref,
        "status": case.status,
        "referral": referral,
        "missing_required": list(case.missing_required),
        "queries": list(case.queries),
        "provenance": provenance,
        "fallbacks": list(version.fallbacks),
        "version": case.current_version,
        "received_at": iso(case.created_at),
        "meeting_date": case.meeting_date.isoformat() if case.meeting_date else None,
        "waiting_for": waiting_for(case),
        "possible_duplicates": case_store.possible_duplicates(session, case),
        "messages": messages,
        "attachments": attachments,
    }


def messages(session: Session, vault: Vault) -> list[dict[str, Any]]:
    out = []
    for row in session.scalars(select(InboundMessage).order_by(InboundMessage.received_at)):
        out.append({"id": row.id, "message_id": _message_id_of(session, vault, row),
                    "received_at": iso(row.received_at),
                    "sender": vault.open_text(session, row, "sender_enc"),
                    "action": row.action,
                    "case_refs": case_store.case_refs_of_message(session, row.id),
                    "reason": row.reason})
    return out


def _message_id_of(session: Session, vault: Vault, row: InboundMessage) -> str | None:
    """The Message-ID from the stored message's header block (not the whole MIME tree)."""
    raw = vault.open(session, row, "raw_enc")
    headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    found = re.findall(r"<[^<>\s]+>", str(headers.get("Message-ID", "") or ""))
    return found[0] if found else None


def quarantine(session: Session, vault: Vault) -> list[dict[str, Any]]:
    rows = session.scalars(select(InboundMessage).where(
        InboundMessage.action == "quarantine", InboundMessage.hold_state == "pending")
        .order_by(InboundMessage.received_at))
    return [{"id": row.id, "received_at": iso(row.received_at),
             "sender": vault.open_text(session, row, "sender_enc"),
             "subject": vault.open_text(session, row, "subject_enc"),
             "reason": row.reason} for row in rows]
