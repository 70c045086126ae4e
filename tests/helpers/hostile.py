"""Hostile inputs, built on demand: every shape of issue 13, small on disk, huge in effect.

Each builder returns bytes: an attachment (``pdf_*``, ``zip_*``, ``odt_*``, ``docx_*``) or
a whole RFC 5322 message (``mail_*``).  Nothing here is stored in the repository; the
builders are deterministic, so a failure can be reproduced by calling one again.

``SHAPES`` names every hostile message with its builder, for the tests and for
``benchmarks/bench_hostile.py``.
"""

from __future__ import annotations

import base64
import io
import zipfile
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
FORMS = DATA / "forms"
EMAILS = DATA / "emails"
MB = 1024 * 1024


def form_bytes(name: str = "coc-01-complete.docx") -> bytes:
    return (FORMS / name).read_bytes()


# -- deflate streams that are cheap to build but inflate enormously -----------------------
@cache
def zeros_deflate(total: int, chunk: int = 16 * MB) -> bytes:
    """A zlib stream of ``total`` zero bytes, built without compressing them all.

    A full flush makes each chunk's output independent of the one before, so the
    compressed form of one chunk is repeated; the Adler-32 of n zeros is (n mod 65521,
    1).
    """
    assert total % chunk == 0
    compressor = zlib.compressobj(9)
    first = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    header, segment = first[:2], first[2:]
    tail = compressor.flush()[:-4]
    adler = ((total % 65521) << 16) | 1
    return header + segment * (total // chunk) + tail + adler.to_bytes(4, "big")


def double_deflate(total: int) -> bytes:
    """Deflated twice: about 32 KB on the wire for 16 GB inflated."""
    return zlib.compress(zeros_deflate(total), 9)


# -- PDF ------------------------------------------------------------------------------------
def build_pdf(objects: list[bytes]) -> bytes:
    """A PDF from object bodies (object n is ``objects[n-1]``; 1 is the catalog)."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _page(contents: bytes) -> bytes:
    return (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents "
        + contents
        + b" /Resources << /Font << /F1 3 0 R >> >> >>"
    )


def page_content(lines: int = 40) -> bytes:
    """A page of text in a ruled table: what pdfplumber works hardest on."""
    ops = [b"0.5 w"]
    for i in range(lines):
        y = 800 - i * 18
        ops.append(b"50 %d m 545 %d l S" % (y, y))
        ops.append(b"BT /F1 9 Tf 55 %d Td (Referral form line %d: a value) Tj ET" % (y - 12, i))
    ops.append(b"50 80 m 50 800 l S 300 80 m 300 800 l S 545 80 m 545 800 l S")
    return b"\n".join(ops)


def pdf_pages(count: int, *, shared: bool) -> bytes:
    """``count`` pages, all drawing one shared content stream or each its own."""
    first_page = 5 if shared else 4
    kids = b" ".join(b"%d 0 R" % (first_page + n * (1 if shared else 2)) for n in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count %d /Kids [%s] >>" % (count, kids),
        _FONT,
    ]
    if shared:
        objects.append(_stream(zlib.compress(page_content()), b"/Filter /FlateDecode"))
        objects += [_page(b"4 0 R")] * count
    else:
        for n in range(count):
            objects.append(_page(b"%d 0 R" % (len(objects) + 2)))
            objects.append(_stream(b"BT /F1 12 Tf 72 720 Td (Page %d) Tj ET" % n))
    return build_pdf(objects)


def pdf_one_stream(data: bytes, filters: bytes) -> bytes:
    """One page whose content stream is ``data`` under ``filters``."""
    return build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Count 1 /Kids [4 0 R] >>",
            _FONT,
            _page(b"5 0 R"),
            _stream(data, b"/Filter " + filters),
        ]
    )


def pdf_inflate_bomb() -> bytes:
    """About 32 KB; its page content inflates (twice) to 16 GB."""
    return pdf_one_stream(double_deflate(16 * 1024 * MB), b"[/FlateDecode /FlateDecode]")


def pdf_gigabyte_stream() -> bytes:
    """About 1 MB; one FlateDecode stream of 1 GB."""
    return pdf_one_stream(zeros_deflate(1024 * MB), b"/FlateDecode")


def pdf_ruled_grid(lines: int = 60_000) -> bytes:
    """One page ruled with ``lines`` crossing pairs of lines and no text.  Every line is
    a path the reader turns into an edge and the table finder works on every crossing:
    20,000 pairs took about 4 CPU seconds with pdfminer and take about 1.1 with pdfium,
    so the default is 60,000 (about 3.5 s): a 1-second CPU limit is breached for certain."""
    ops = [b"0.5 w"]
    for i in range(lines):
        x, y = 50 + (i * 7) % 495, 80 + (i * 13) % 720
        ops.append(b"%d 80 m %d 800 l S %d %d m 545 %d l S" % (x, x, 50, y, y))
    return pdf_one_stream(zlib.compress(b"\n".join(ops)), b"/FlateDecode")


# -- zip, odt, docx ---------------------------------------------------------------------------
def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


_ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:xlink="http://www.w3.org/1999/xlink"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2">
<office:body><office:text><text:p>{text}</text:p>{image}</office:text></office:body>
</office:document-content>"""
_ODT_IMAGE = (
    '<text:p><draw:frame draw:name="i1" svg:width="2cm" svg:height="2cm" '
    'text:anchor-type="paragraph"><draw:image xlink:href="{url}" xlink:type="simple" '
    'xlink:show="embed" xlink:actuate="onLoad"/></draw:frame></text:p>'
)
_ODT_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
 manifest:version="1.2"><manifest:file-entry manifest:full-path="/"
 manifest:media-type="application/vnd.oasis.opendocument.text"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""


def odt(text: str = "Minutes of a meeting", image_url: str | None = None) -> bytes:
    """A small OpenDocument text; with ``image_url``, a linked (not embedded) picture."""
    image = _ODT_IMAGE.format(url=image_url) if image_url else ""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("META-INF/manifest.xml", _ODT_MANIFEST, zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", _ODT_CONTENT.format(text=text, image=image), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def zip_of_zips_odt(count: int = 10) -> bytes:
    """A zip holding ``count`` zips, each holding one .odt: ``count`` conversions asked for."""
    return zipped({f"part{n}.zip": zipped({f"notes{n}.odt": odt(f"Notes {n}")}) for n in range(count)})


def compressible(size: int, ratio_hint: int = 12) -> bytes:
    """``size`` bytes that deflate about 75:1: under the zip ratio check, still huge."""
    block = bytearray(1024)
    out = bytearray()
    seed = 12345
    while len(out) < size:
        for i in range(0, 1024, 1024 // ratio_hint):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            block[i] = seed & 0xFF
        out += block
    return bytes(out[:size])


def zip_four_big_members() -> bytes:
    """About 1.3 MB holding four 24 MB files that are not forms."""
    return zipped({f"data{n}.bin": compressible(24 * MB) for n in range(4)})


def docx_corrupt_member() -> bytes:
    """The form with the deflate data of [Content_Types].xml broken (found by fuzzing:
    zlib.error escaped the sniffer)."""
    data = bytearray(form_bytes("coc-07-tagged-controls.docx"))
    name = b"[Content_Types].xml"
    start = data.index(name) + len(name)
    data[start : start + 4] = b"\xff\xff\xff\xff"
    return bytes(data)


def truncated_docx() -> bytes:
    data = form_bytes()
    return data[: len(data) // 2]


# -- messages -----------------------------------------------------------------------------
def attachment_part(name: str, ctype: str, data: bytes, disposition: str | None = None) -> bytes:
    body = base64.encodebytes(data)
    disposition = disposition or f'attachment; filename="{name}"'
    return (
        f"Content-Type: {ctype}\r\nContent-Disposition: {disposition}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + body


def message(
    *,
    headers: list[tuple[str, str | bytes]] | None = None,
    subject: str | bytes = "Referral",
    sender: str | bytes = "Sam Referrer <sam.referrer@example.org>",
    text: str = "Please find attached a referral.\r\n",
    html: str | None = None,
    parts: list[bytes] | None = None,
    message_id: str | bytes = "<hostile.1@example.org>",
) -> bytes:
    """A message with exactly the header bytes given (nothing is folded or encoded)."""

    def b(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode("utf-8")

    head = [
        b"From: " + b(sender),
        b"To: cscp@example.org",
        b"Subject: " + b(subject),
        b"Date: Mon, 05 Oct 2026 09:12:33 +0100",
        b"Message-ID: " + b(message_id),
        b"MIME-Version: 1.0",
    ]
    head += [b(name) + b": " + b(value) for name, value in headers or []]
    boundary = b"=-=hostile-boundary=-="
    body_part = (
        b"Content-Type: text/html; charset=utf-8\r\n\r\n" + b(html)
        if html is not None
        else b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + b(text)
    )
    if not parts:
        return b"\r\n".join(head) + b"\r\n" + body_part + b"\r\n"
    head.append(b'Content-Type: multipart/mixed; boundary="' + boundary + b'"')
    chunks = [b"\r\n".join(head), b"", b"--" + boundary, body_part]
    for part in parts:
        chunks += [b"--" + boundary, part]
    chunks.append(b"--" + boundary + b"--\r\n")
    return b"\r\n".join(chunks)


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def with_attachment(
    name: str, data: bytes, ctype: str = "application/octet-stream", **kwargs: object
) -> bytes:
    return message(parts=[attachment_part(name, ctype, data)], **kwargs)  # type: ignore[arg-type]


def mail_from_comments(size: int) -> bytes:
    return message(sender="(" + "a(b)" * (size // 4) + ") <sam.referrer@example.org>")


def mail_header_lines(count: int = 100_000) -> bytes:
    return message(headers=[(f"X-Filler-{n % 10_000}", "x") for n in range(count)])


def mail_message_id_comments(count: int = 8000) -> bytes:
    return message(message_id="(c)" * count + "<many.comments@example.org>")


def mail_unclosed_style(size: int) -> bytes:
    return message(html="<p>Referral</p>" + "<style" * (size // 6))


def mail_tags_and_references(tag_bytes: int = MB, references: int = 60_000) -> bytes:
    tags = "[COC-2026-0001] " * (tag_bytes // 16)
    refs = " ".join(f"<r{n}@example.org>" for n in range(references))
    return message(subject=tags + "Referral", headers=[("References", refs)])


def mail_long_content_type() -> bytes:
    ctype = "application/vnd.openxmlformats-officedocument.wordprocessingml.document" + "x" * 100
    assert len(ctype) == 171
    return message(parts=[attachment_part("referral.docx", ctype, form_bytes())])


def mail_nul_header() -> bytes:
    return with_attachment("referral.docx", form_bytes(), DOCX, subject=b"Referral \x00 for a child")


def mail_control_characters() -> bytes:
    disposition = "attachment; filename*=utf-8''ref%1B%5B31m%0D%0Aerral.docx"
    return message(
        subject="=?utf-8?q?Referral_=1B[2J=1B[31mred=0D=0AInjected:_yes?=",
        parts=[attachment_part("x", DOCX, form_bytes(), disposition)],
    )


def mail_auto_submitted(size: int = 185 * 1024) -> bytes:
    return message(headers=[("Auto-Submitted", "auto-replied; " + "x" * size)])


def mail_deep_mime(depth: int = 2000) -> bytes:
    head = b"From: sam.referrer@example.org\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
    body = b"Content-Type: text/plain\r\n\r\nReferral\r\n"
    for level in range(depth):
        boundary = b"b%d" % level
        body = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"\r\n\r\n--'
            + boundary
            + b"\r\n"
            + body
            + b"\r\n--"
            + boundary
            + b"--\r\n"
        )
    return head + body


def mail_many_parts(count: int = 20_000) -> bytes:
    parts = [b"Content-Type: application/octet-stream\r\n\r\nx" for _ in range(count)]
    return message(parts=parts)


def attach(data: bytes, name: str, ctype: str = "application/octet-stream") -> Callable[[], bytes]:
    return lambda: with_attachment(name, data, ctype)


#: Every hostile message: name -> builder.  Attachment shapes are sent as a referral.
SHAPES: dict[str, Callable[[], bytes]] = {
    "pdf_inflate_32k": lambda: with_attachment("referral.pdf", pdf_inflate_bomb()),
    "pdf_800_shared_pages": lambda: with_attachment("referral.pdf", pdf_pages(800, shared=True)),
    "pdf_25000_pages": lambda: with_attachment("referral.pdf", pdf_pages(25_000, shared=False)),
    "pdf_1gb_stream": lambda: with_attachment("referral.pdf", pdf_gigabyte_stream()),
    "pdf_ruled_grid_20000": lambda: with_attachment("referral.pdf", pdf_ruled_grid(20_000)),
    "zip_of_zips_10_odt": lambda: with_attachment("forms.zip", zip_of_zips_odt(10)),
    "zip_four_24mb_members": lambda: with_attachment("papers.zip", zip_four_big_members()),
    "docx_truncated": lambda: with_attachment("referral.docx", truncated_docx(), DOCX),
    "docx_corrupt_member": lambda: with_attachment("referral.docx", docx_corrupt_member(), DOCX),
    "from_64k_comments": lambda: mail_from_comments(64 * 1024),
    "from_1mb_comments": lambda: mail_from_comments(MB),
    "header_100000_lines": lambda: mail_header_lines(100_000),
    "message_id_8000_comments": lambda: mail_message_id_comments(8000),
    "html_240k_unclosed_style": lambda: mail_unclosed_style(240 * 1024),
    "html_1mb_unclosed_style": lambda: mail_unclosed_style(MB),
    "subject_1mb_tags_60000_refs": lambda: mail_tags_and_references(),
    "content_type_171": mail_long_content_type,
    "nul_in_header": mail_nul_header,
    "esc_cr_lf_subject_filename": mail_control_characters,
    "auto_submitted_185k": mail_auto_submitted,
    "mime_depth_2000": lambda: mail_deep_mime(2000),
    "mime_20000_parts": lambda: mail_many_parts(20_000),
}
