"""How much work one message may cost the form reader, and the words when it is too much.

The sandbox (``mailbot/sandbox.py``) bounds CPU, memory and time from outside; these caps
bound the work from inside, so that an over-large file gets a plain answer instead of
hitting a hard limit.  A real COC form is 3-6 pages, one file, at most one conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailbot.forms.convert import ConvertLimits

#: Pages of a PDF that are read; the rest are ignored (the form is 3-6 pages).  Reading a
#: page and finding its tables cost 0.3-0.45 s with pdfminer here (about 30 ms with
#: pdfium), and a hostile page far more: pages that cannot hold the form are not read.
MAX_PDF_PAGES = 20
#: Bytes one PDF stream may inflate to (a page's content is tens of KB; fonts a few MB).
MAX_PDF_STREAM_BYTES = 16 * 1024 * 1024
#: Bytes all the streams a PDF's read pages use may inflate to, together.
MAX_PDF_TOTAL_BYTES = 48 * 1024 * 1024
#: Bytes of page content interpreted over all pages read (a shared stream counts per page).
MAX_PDF_CONTENT_BYTES = 8 * 1024 * 1024
#: PDF objects visited while checking the pages read.
MAX_PDF_OBJECTS = 20_000
#: LibreOffice conversions (.doc, .odt) per message: one form needs one.
MAX_CONVERSIONS = 3
#: Zip archives nested in zip archives: forms.zip/part.zip/form.docx is depth 2.
MAX_ARCHIVE_DEPTH = 2

TOO_COMPLEX = (
    "The file is too complex to read automatically. Please send the form as a Word document (.docx)."
)
READER_FAILED = "The file could not be read automatically, so a member of the CSCP team will read it."
TOO_MANY_PAGES = (
    "The PDF is far longer than a referral form, so it was not read automatically. Please "
    "send the form on its own, as a Word document (.docx)."
)
TOO_MANY_CONVERSIONS = (
    "The message holds more documents in older formats than we convert automatically. "
    "Please send the form as a Word document (.docx) or PDF."
)


@dataclass
class ReadBudget:
    """What is left for the rest of one message (shared by all its attachments)."""

    conversions: int = MAX_CONVERSIONS
    #: Bytes that zip members of this message may still inflate to.
    inflate_bytes: int = 200 * 1024 * 1024
    #: Conversions done (reported back by the sandbox).
    converted: int = 0
    #: Limits for each LibreOffice run (the sandbox passes what is left of its own).
    convert_limits: ConvertLimits = field(default_factory=ConvertLimits)

    def take_conversion(self) -> bool:
        if self.conversions <= 0:
            return False
        self.conversions -= 1
        self.converted += 1
        return True
