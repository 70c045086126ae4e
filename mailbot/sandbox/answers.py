"""The child's answers, read back into the bot's types. The child is untrusted, so every
field is checked for its type here and a malformed answer raises ``ValueError`` (the
client treats it as the child having crashed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailbot.forms.model import ParsedForm, Query, VerdictKind

if TYPE_CHECKING:
    from mailbot.mail.reader import InboundMessage


def form_from(data: Any) -> ParsedForm | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("referral"), dict):
        raise ValueError("form")
    queries = [Query(str(q["field"]), str(q["problem"])) for q in data.get("queries", [])]
    return ParsedForm(
        referral=data["referral"],
        missing_required=[str(k) for k in data.get("missing_required", [])],
        provenance={str(k): str(v) for k, v in data.get("provenance", {}).items()},
        source=str(data.get("source", "docx")),
        queries=queries,
    )


def strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError("list")
    return [str(v) for v in value]


def optional(value: Any) -> str | None:
    return None if value is None else str(value)


def message_from(data: dict[str, Any], raw: bytes, blobs: list[bytes]) -> InboundMessage:
    """An InboundMessage from the child's answer, every field checked for its type."""
    from datetime import datetime

    from mailbot.mail.reader import InboundAttachment, InboundMessage, auth_from_json
    from mailbot.mail.unwrap import wrapping_from_json

    headers = data["headers"]
    if not isinstance(headers, dict):
        raise ValueError("headers")
    attachments = [
        InboundAttachment(
            filename=str(a["filename"]),
            content_type=str(a["content_type"]),
            data=blobs[n],
            sniffed=str(a["sniffed"]),
            inline=bool(a["inline"]),
        )
        for n, a in enumerate(data["attachments"])
    ]
    date = data.get("date")
    return InboundMessage(
        raw=raw,
        message_id=optional(data["message_id"]),
        subject=str(data["subject"]),
        sender=optional(data["sender"]),
        date=datetime.fromisoformat(date) if isinstance(date, str) else None,
        in_reply_to=strings(data["in_reply_to"]),
        references=strings(data["references"]),
        return_path=optional(data["return_path"]),
        content_type=str(data["content_type"]),
        headers={str(k): strings(v) for k, v in headers.items()},
        text=str(data["text"]),
        attachments=attachments,
        auth=auth_from_json(data["auth"]),
        defects=int(data["defects"]),
        case_tags=strings(data["case_tags"]),
        wrapping=wrapping_from_json(data["wrapping"]),
    )


def verdict_kind(value: str) -> VerdictKind:
    if value == "form":
        return "form"
    if value == "not_form":
        return "not_form"
    if value == "manual":
        return "manual"
    return "reject"
