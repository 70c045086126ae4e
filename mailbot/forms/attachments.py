"""Every attachment of a message, judged: a form, another document, refused, or a scan.

Never raises for bad input: each part (and each member of a zip) gets a verdict with
plain words for the referrer.  Zip archives are opened within size, count and ratio
limits, nested at most ``MAX_DEPTH`` deep; member paths are only reported (by their
last component), never written to disk.  One message shares one ``ReadBudget``
(conversions, bytes inflated from archives).

What is kept is what arrived: a form (or scan) found inside a zip is kept as its own
file, but the other members are not kept inflated; one verdict for the archive itself
carries the original zip bytes once.
"""

from __future__ import annotations

from mailbot.errors import FormRejected, NotACocForm
from mailbot.forms.limits import MAX_ARCHIVE_DEPTH, ReadBudget
from mailbot.forms.model import AttachmentVerdict, ParsedForm, VerdictKind
from mailbot.forms.pdf_reader import NeedsManualEntry
from mailbot.forms.reading import read_form_bytes
from mailbot.forms.safezip import TOO_BIG, ZipLimits, open_checked_zip, read_member
from mailbot.forms.sniff import sniff
from mailbot.safetext import clean_content_type, clean_filename

MAX_DEPTH = MAX_ARCHIVE_DEPTH
MAX_ZIP_MEMBERS = 50
NOT_THE_FORM = "The attachment is a document, but not the Case of Concern referral form."
IMAGE = "The attachment is a picture, not the referral form."
OTHER = "The attachment is not a document we read as a referral form."
EMPTY_ZIP = "The zip file holds no documents. Please attach the form itself."
ARCHIVE_KEPT = "The zip file holds files other than the referral form; it is kept as it arrived."


def _too_large(max_bytes: int) -> str:
    megabytes = max(1, max_bytes // (1024 * 1024))
    return (
        f"The attachment is larger than the {megabytes} MB we can accept, so it was not "
        "opened. Please send a smaller copy (for example the form alone, saved as .docx "
        "or PDF)."
    )


def _verdict(
    name: str,
    ctype: str,
    data: bytes,
    kind: VerdictKind,
    *,
    form: ParsedForm | None = None,
    reason: str | None = None,
) -> AttachmentVerdict:
    return AttachmentVerdict(
        filename=name, kind=kind, form=form, reason=reason, content_type=ctype, size=len(data), data=data
    )


def _safe_name(member: str) -> str:
    """Only the last path component, so no member name can point outside anything."""
    return clean_filename(member)


class _Reading:
    """One attachment being read: its budget, and which verdicts came from inside a zip."""

    def __init__(self, max_bytes: int, year: int | None, budget: ReadBudget) -> None:
        self.max_bytes = max_bytes
        self.year = year
        self.budget = budget

    def zip(self, name: str, data: bytes, depth: int) -> list[tuple[AttachmentVerdict, bool]]:
        limits = ZipLimits(max_member_bytes=self.max_bytes, max_total_bytes=self.max_bytes * 4)
        found: list[tuple[AttachmentVerdict, bool]] = []
        with open_checked_zip(data, limits) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and not _safe_name(info.filename).startswith(".")
            ]
            if len(members) > MAX_ZIP_MEMBERS:
                raise FormRejected(OTHER)
            for info in members:
                if info.file_size > self.budget.inflate_bytes:
                    raise FormRejected(TOO_BIG)
                inner = read_member(archive, info.filename, limits) or b""
                self.budget.inflate_bytes -= len(inner)
                label = f"{name}/{_safe_name(info.filename)}"
                for verdict, _inside in self.one(label, "application/octet-stream", inner, depth + 1):
                    found.append((verdict, True))
        if not found:
            return [(_verdict(name, "application/zip", data, "reject", reason=EMPTY_ZIP), False)]
        return found

    def one(self, name: str, ctype: str, data: bytes, depth: int) -> list[tuple[AttachmentVerdict, bool]]:
        if len(data) > self.max_bytes:
            return [(_verdict(name, ctype, data, "reject", reason=_too_large(self.max_bytes)), False)]
        kind = sniff(data)
        try:
            if kind == "zip":
                if depth >= MAX_DEPTH:
                    raise FormRejected(OTHER)
                return self.zip(name, data, depth)
            if kind == "image":
                return [(_verdict(name, ctype, data, "not_form", reason=IMAGE), False)]
            if kind in ("other", "rtf"):
                return [(_verdict(name, ctype, data, "not_form", reason=OTHER), False)]
            form = read_form_bytes(data, name, reference_year=self.year, budget=self.budget)
        except NeedsManualEntry as exc:
            return [(_verdict(name, ctype, data, "manual", reason=exc.reason), False)]
        except FormRejected as exc:
            return [(_verdict(name, ctype, data, "reject", reason=exc.reason), False)]
        except NotACocForm:
            return [(_verdict(name, ctype, data, "not_form", reason=NOT_THE_FORM), False)]
        return [(_verdict(name, ctype, data, "form", form=form), False)]


def _keep_once(
    name: str, ctype: str, data: bytes, found: list[tuple[AttachmentVerdict, bool]]
) -> list[AttachmentVerdict]:
    """Members that are not forms give way to one verdict carrying the zip as it came;
    refused members keep their reason (once per distinct reason: the referrer needs one
    sentence, not one per file) but not their inflated bytes."""
    out: list[AttachmentVerdict] = []
    archive_placed = False
    reasons: set[str | None] = set()
    for verdict, inside in found:
        if not inside:
            out.append(verdict)
        elif verdict.kind == "not_form":
            if not archive_placed:
                out.append(_verdict(name, ctype, data, "not_form", reason=ARCHIVE_KEPT))
                archive_placed = True
        elif verdict.kind == "reject":
            if verdict.reason not in reasons:
                reasons.add(verdict.reason)
                verdict.data = b""
                out.append(verdict)
        else:
            out.append(verdict)
    return out


def read_attachment(
    filename: str | None,
    content_type: str | None,
    data: bytes,
    *,
    max_bytes: int,
    reference_year: int | None,
    budget: ReadBudget,
) -> list[AttachmentVerdict]:
    """The verdicts for one attachment (several for a zip), within the message's budget."""
    name = _safe_name(filename or "attachment")
    ctype = clean_content_type(content_type)
    found = _Reading(max_bytes, reference_year, budget).one(name, ctype, bytes(data), 0)
    return _keep_once(name, ctype, bytes(data), found)


def read_attachments(
    parts: list[tuple[str, str, bytes]], *, max_bytes: int, reference_year: int
) -> list[AttachmentVerdict]:
    """One verdict per attachment (several for a zip), in attachment order.

    ``parts`` are ``(filename, content_type, data)``; the type and name are reported
    back but never trusted: the bytes decide what a file is.
    """
    budget = ReadBudget(inflate_bytes=max_bytes * 8)
    verdicts: list[AttachmentVerdict] = []
    for filename, content_type, data in parts:
        verdicts.extend(
            read_attachment(
                filename,
                content_type,
                data,
                max_bytes=max_bytes,
                reference_year=reference_year,
                budget=budget,
            )
        )
    return verdicts
