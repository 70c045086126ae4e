"""Every attachment of a message, judged: a form, another document, refused, or a scan.

Never raises for bad input: each part (and each member of a zip) gets a verdict with
plain words for the referrer.  Zip archives are opened within size, count and ratio
limits, nested at most ``MAX_DEPTH`` deep; member paths are only reported (by their
last component), never written to disk.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from mailbot.errors import FormRejected, NotACocForm
from mailbot.forms.model import AttachmentVerdict, ParsedForm, VerdictKind
from mailbot.forms.pdf_reader import NeedsManualEntry
from mailbot.forms.reading import read_form_bytes
from mailbot.forms.safezip import ZipLimits, open_checked_zip, read_member
from mailbot.forms.sniff import sniff

MAX_DEPTH = 2
MAX_ZIP_MEMBERS = 50
NOT_THE_FORM = "The attachment is a document, but not the Case of Concern referral form."
IMAGE = "The attachment is a picture, not the referral form."
OTHER = "The attachment is not a document we read as a referral form."
EMPTY_ZIP = "The zip file holds no documents. Please attach the form itself."


def _too_large(max_bytes: int) -> str:
    megabytes = max(1, max_bytes // (1024 * 1024))
    return (
        f"The attachment is larger than the {megabytes} MB we can accept, so it was not "
        "opened. Please send a smaller copy (for example the form alone, saved as .docx "
        "or PDF)."
    )


def _verdict(
    name: str, ctype: str, data: bytes, kind: VerdictKind,
    *, form: ParsedForm | None = None, reason: str | None = None,
) -> AttachmentVerdict:
    return AttachmentVerdict(
        filename=name, kind=kind, form=form, reason=reason, content_type=ctype, size=len(data), data=data
    )


def _safe_name(member: str) -> str:
    """Only the last path component, so no member name can point outside anything."""
    name = PurePosixPath(member.replace("\\", "/")).name
    return name or "unnamed"


def _read_zip(
    name: str, data: bytes, max_bytes: int, year: int | None, depth: int
) -> list[AttachmentVerdict]:
    limits = ZipLimits(max_member_bytes=max_bytes, max_total_bytes=max_bytes * 4)
    with open_checked_zip(data, limits) as archive:
        members = [
            info for info in archive.infolist()
            if not info.is_dir() and not info.filename.startswith("__MACOSX/")
            and not _safe_name(info.filename).startswith(".")
        ]
        if len(members) > MAX_ZIP_MEMBERS:
            raise FormRejected(OTHER)
        verdicts: list[AttachmentVerdict] = []
        for info in members:
            inner = read_member(archive, info.filename, limits) or b""
            label = f"{name}/{_safe_name(info.filename)}"
            verdicts.extend(_read_one(label, "application/octet-stream", inner,
                                      max_bytes, year, depth + 1))
    return verdicts or [_verdict(name, "application/zip", data, "reject", reason=EMPTY_ZIP)]


def _read_one(
    name: str, ctype: str, data: bytes, max_bytes: int, year: int | None, depth: int
) -> list[AttachmentVerdict]:
    if len(data) > max_bytes:
        return [_verdict(name, ctype, data, "reject", reason=_too_large(max_bytes))]
    kind = sniff(data)
    try:
        if kind == "zip":
            if depth >= MAX_DEPTH:
                raise FormRejected(OTHER)
            return _read_zip(name, data, max_bytes, year, depth)
        if kind == "image":
            return [_verdict(name, ctype, data, "not_form", reason=IMAGE)]
        if kind == "other":
            return [_verdict(name, ctype, data, "not_form", reason=OTHER)]
        form = read_form_bytes(data, name, reference_year=year)
    except NeedsManualEntry as exc:
        return [_verdict(name, ctype, data, "manual", reason=exc.reason)]
    except FormRejected as exc:
        return [_verdict(name, ctype, data, "reject", reason=exc.reason)]
    except NotACocForm:
        return [_verdict(name, ctype, data, "not_form", reason=NOT_THE_FORM)]
    return [_verdict(name, ctype, data, "form", form=form)]


def read_attachments(
    parts: list[tuple[str, str, bytes]], *, max_bytes: int, reference_year: int
) -> list[AttachmentVerdict]:
    """One verdict per attachment (several for a zip), in attachment order.

    ``parts`` are ``(filename, content_type, data)``; the type and name are reported
    back but never trusted: the bytes decide what a file is.
    """
    verdicts: list[AttachmentVerdict] = []
    for filename, content_type, data in parts:
        name = _safe_name(filename or "attachment")
        verdicts.extend(_read_one(name, content_type, bytes(data), max_bytes,
                                  reference_year, 0))
    return verdicts
