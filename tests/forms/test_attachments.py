"""Attachments: sniffed by content, zips opened safely, every bad input gets a verdict."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from helpers.forms_variants import Form
from pypdf import PdfWriter

from mailbot.errors import FormRejected
from mailbot.forms import NeedsManualEntry, read_attachments, read_form_bytes

DATA = Path(__file__).resolve().parents[1] / "data" / "forms"
MB = 1024 * 1024


def verdicts(*parts: tuple[str, bytes], max_bytes: int = 25 * MB):
    return read_attachments(
        [(n, "application/octet-stream", d) for n, d in parts], max_bytes=max_bytes, reference_year=2026
    )


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_sniffed_by_content_not_name() -> None:
    pdf = (DATA / "coc-09-complete-flattened.pdf").read_bytes()
    [verdict] = verdicts(("form.docx", pdf))
    assert verdict.kind == "form" and verdict.form is not None
    assert verdict.form.source == "pdf"


def test_zip_containing_the_form() -> None:
    form = (DATA / "coc-07-tagged-controls.docx").read_bytes()
    [verdict] = verdicts(("forms.zip", zipped({"../../etc/referral.docx": form})))
    assert verdict.kind == "form"
    assert verdict.filename == "forms.zip/referral.docx"


def test_zip_bomb_is_refused_before_parsing() -> None:
    bomb = Form().fill().to_bytes({"word/document.xml": b" " * (30 * MB)})
    assert len(bomb) < MB
    with pytest.raises(FormRejected, match="expands"):
        read_form_bytes(bomb)
    [verdict] = verdicts(("referral.docx", bomb))
    assert verdict.kind == "reject"


def test_encrypted_office_file_is_refused_in_plain_words() -> None:
    ole = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 512
        + "EncryptedPackage".encode("utf-16-le")
        + b"\x00" * 512
    )
    [verdict] = verdicts(("referral.docx", ole))
    assert verdict.kind == "reject" and "password" in (verdict.reason or "")


def test_word_97_doc_without_libreoffice_asks_for_docx() -> None:
    doc = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64 + "WordDocument".encode("utf-16-le") + b"\x00" * 64
    )
    [verdict] = verdicts(("referral.doc", doc))
    assert verdict.kind == "reject" and ".docx" in (verdict.reason or "")


def test_scanned_pdf_needs_a_person() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(NeedsManualEntry):
        read_form_bytes(buffer.getvalue())
    [verdict] = verdicts(("scan.pdf", buffer.getvalue()))
    assert verdict.kind == "manual"


def test_oversized_attachment_asks_for_a_smaller_copy() -> None:
    [verdict] = verdicts(("big.docx", b"PK\x03\x04" + b"\x00" * 2048), max_bytes=1024)
    assert verdict.kind == "reject" and "smaller copy" in (verdict.reason or "")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "reject"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "not_form"),
        (b"Dear team, hello", "not_form"),
        (b"%PDF-1.4 broken", "reject"),
        # Starts like a .docx but cannot be opened: "damaged", not "no form" (issue 13).
        (b"PK\x03\x04 not really a zip", "reject"),
        (zipped({"notes.txt": b"hello"}), "not_form"),
    ],
    ids=["empty", "image", "text", "broken-pdf", "broken-zip", "zip-of-text"],
)
def test_bad_inputs_get_a_verdict(data: bytes, kind: str) -> None:
    [verdict] = verdicts(("x", data))
    assert verdict.kind == kind


def test_letter_is_kept_as_not_form() -> None:
    import docx

    letter = docx.Document()
    letter.add_paragraph("Dear colleague, please see the attached chronology.")
    buffer = io.BytesIO()
    letter.save(buffer)
    [verdict] = verdicts(("letter.docx", buffer.getvalue()))
    assert verdict.kind == "not_form"
