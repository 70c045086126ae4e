"""One file's bytes to one ParsedForm: sniff, pick the reader, extract, overlay fields."""

from __future__ import annotations

from mailbot.errors import FormRejected
from mailbot.forms.convert import to_docx
from mailbot.forms.description import load_description
from mailbot.forms.docx_reader import MACROS, read_docx_layout
from mailbot.forms.extract import extract
from mailbot.forms.limits import TOO_MANY_CONVERSIONS, ReadBudget
from mailbot.forms.model import ParsedForm
from mailbot.forms.pdf_fields import overlay_acroform
from mailbot.forms.pdf_guard import check_pdf
from mailbot.forms.pdf_reader import read_pdf_layout
from mailbot.forms.safezip import DAMAGED, LOCKED_FILE
from mailbot.forms.sniff import sniff

NOT_A_FORM_FILE = (
    "The attachment is not a file type we can read as a form. Please send the form as "
    "a Word document (.docx) or PDF."
)
EMPTY_FILE = "The attachment is empty. Please send the form again."
ARCHIVE = (
    "The attachment is an archive rather than the form itself. Please attach the form "
    "as a Word document (.docx) or PDF."
)


def read_form_bytes(
    data: bytes,
    filename: str | None = None,
    *,
    reference_year: int | None = None,
    budget: ReadBudget | None = None,
) -> ParsedForm:
    """Read one form file (sniffed by content; ``filename`` is only for messages).

    Raises FormRejected (with plain words), its child NeedsManualEntry for a scan, or
    NotACocForm for a readable document that is not the form.  ``budget`` is what is
    left of the message's allowance (conversions); a fresh one when not given.
    """
    desc = load_description()
    kind = sniff(data)
    if kind == "docx":
        return extract(read_docx_layout(data), desc, reference_year)
    if kind == "pdf":
        plan = check_pdf(data)
        form = extract(read_pdf_layout(data, pages=plan.pages), desc, reference_year)
        overlay_acroform(data, form, desc, reader=plan.reader)
        return form
    if kind in ("doc", "odt"):
        budget = budget or ReadBudget()
        if not budget.take_conversion():
            raise FormRejected(TOO_MANY_CONVERSIONS)
        converted = to_docx(data, kind, budget.convert_limits)
        return extract(read_docx_layout(converted), desc, reference_year)
    if kind == "damaged":
        raise FormRejected(DAMAGED)
    if kind == "docm":
        raise FormRejected(MACROS)
    if kind == "encrypted_office":
        raise FormRejected(LOCKED_FILE)
    if kind == "empty":
        raise FormRejected(EMPTY_FILE)
    if kind == "zip":
        raise FormRejected(ARCHIVE)
    raise FormRejected(NOT_A_FORM_FILE)
