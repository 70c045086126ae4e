"""The subject access pack: one readable Word document, other people's data marked.

Everything found is in it: each case's every version field by field (in the form's own
words), each message in and its text, each SPRG decision. What is about someone other
than the requester is not removed (a person decides what to redact, and some of it the
requester may already know) but marked: highlighted and prefixed ``[REDACT? other
person]`` for another household member or the child when the requester is not the
child, ``[REVIEW: professional]`` for the referrer and senders, ``[REVIEW: free text]``
for narrative that may name anyone.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from docx.text.paragraph import Paragraph

from mailbot.clock import london
from mailbot.forms import field_label
from mailbot.records.sar import CaseFound, MessageFound, SarResult, Subject

OTHER = "[REDACT? other person] "
PROFESSIONAL = "[REVIEW: professional] "
FREE_TEXT = "[REVIEW: free text] "
_FREE = ("incident_details", "anticipated_learning", "household_address", "child.address")


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in flatten(v, f"{prefix}{k}.")]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [item for n, v in enumerate(value) for item in flatten(v, f"{prefix}{n}.")]
    return [(prefix.rstrip("."), value)]


def marker(key: str, roles: list[str]) -> str:
    """How a field is marked for the person who redacts, given who the requester is."""
    if key.startswith("referrer."):
        return PROFESSIONAL
    for person in ("child", *(f"household.{n}" for n in range(50))):
        if key.startswith(person + ".") and key != "child.address":
            return "" if person in roles else OTHER
    if any(key.startswith(f) for f in _FREE):
        return "" if key.endswith("address") and roles else FREE_TEXT
    return ""


def _label(key: str) -> str:
    try:
        return field_label(key)
    except (KeyError, LookupError):
        return key


def _line(doc: Any, label: str, value: Any, mark: str = "") -> Paragraph:
    para: Paragraph = doc.add_paragraph()
    para.add_run(f"{label}: ").bold = True
    if mark:
        flagged = para.add_run(mark)
        flagged.font.highlight_color = WD_COLOR_INDEX.YELLOW
    run = para.add_run("" if value is None else str(value))
    if mark:
        run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    return para


def _when(moment: datetime | None) -> str:
    return london(moment).strftime("%d/%m/%Y %H:%M") if moment else "-"


def _message(doc: Any, message: MessageFound) -> None:
    doc.add_heading(f"Message received {_when(message.received_at)}", level=3)
    _line(doc, "From", message.sender, PROFESSIONAL)
    _line(doc, "Subject", message.subject, FREE_TEXT)
    _line(doc, "How the bot handled it", message.action)
    if message.attachments:
        _line(doc, "Attachments", ", ".join(message.attachments), FREE_TEXT)
    _line(doc, "Text", message.text.strip() or "(no text)", FREE_TEXT)


def _case(doc: Any, case: CaseFound) -> None:
    doc.add_heading(f"Case {case.ref}", level=1)
    _line(doc, "Status", case.status)
    _line(doc, "Opened", _when(case.created_at))
    _line(doc, "Closed", _when(case.closed_at))
    if case.certainty == "possible":
        _line(
            doc,
            "Match",
            "POSSIBLE: the name matches but this form gives no date of birth "
            "for that person; check before disclosing",
            FREE_TEXT,
        )
    for version in case.versions:
        doc.add_heading(
            f"Version {version.version} ({version.source}, {_when(version.created_at)}, "
            f"by {version.created_by})",
            level=2,
        )
        for key, value in flatten(version.referral):
            if value in (None, "", []):
                continue
            _line(
                doc,
                _label(key),
                ", ".join(map(str, value)) if isinstance(value, list) else value,
                marker(key, version.roles),
            )
    for n, decision in enumerate(case.decisions, 1):
        doc.add_heading(f"SPRG decision {n}", level=2)
        for key, value in flatten(decision):
            if value not in (None, "", []):
                _line(doc, _label(key), value, FREE_TEXT if "grounds" in key or "other" in key else "")
    for n, action in enumerate(case.actions, 1):
        doc.add_heading(f"SPRG action {n}", level=2)
        _line(doc, "Action", action["action"], FREE_TEXT)
        _line(doc, "Agency", action["agency"])
        _line(doc, "Owner", action["owner"], PROFESSIONAL)
        _line(doc, "Due", action["due"])
        _line(doc, "Done", action["done"] or "not yet")
    for message in case.messages:
        _message(doc, message)


def write_pack(
    result: SarResult, subject: Subject, received: date, due: date, now: datetime, out_dir: Path
) -> Path:
    doc = Document()
    doc.add_heading("Subject access request: data held by the CSCP referrals bot", level=0)
    doc.add_paragraph(
        "CONFIDENTIAL. Marked items are for review before disclosure: "
        "[REDACT? other person] is another person's data; [REVIEW: professional] "
        "names a professional; [REVIEW: free text] may name anyone."
    )
    _line(doc, "Requester's name as given", subject.name)
    _line(doc, "Date of birth as given", subject.dob.strftime("%d/%m/%Y"))
    _line(doc, "Request received", received.strftime("%d/%m/%Y"))
    _line(doc, "Response due by (one month)", due.strftime("%d/%m/%Y"))
    _line(
        doc,
        "Searched",
        f"{result.searched_cases} case(s) and {result.searched_messages} "
        f"message(s) without a case, on {_when(now)}",
    )
    _line(doc, "Found", f"{len(result.cases)} case(s), {len(result.other_messages)} other message(s)")
    for case in result.cases:
        _case(doc, case)
    if result.other_messages:
        doc.add_heading("Messages that fed no case but name the requester", level=1)
        for message in result.other_messages:
            _message(doc, message)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = out_dir / f"sar-{london(now):%Y%m%d-%H%M%S}.docx"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        doc.save(handle)
    return path
