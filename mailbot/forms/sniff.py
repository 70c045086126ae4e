"""What a file is, judged by its bytes (never by its name or declared type).

Referrers rename files and mail clients guess content types; the first bytes and, for
zip containers, the member names are what count.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Literal

from mailbot.forms.safezip import OLE_MAGIC, PK_MAGIC, ZIP_ERRORS

FileKind = Literal[
    "docx",
    "docm",
    "odt",
    "zip",
    "pdf",
    "encrypted_office",
    "doc",
    "ole",
    "image",
    "empty",
    "rtf",
    "damaged",
    "other",
]

_IMAGES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*", b"BM", b"RIFF")


def _ole_kind(data: bytes) -> FileKind:
    """An OLE compound file: a password-protected .docx, a Word 97 .doc, or other."""
    if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
        return "encrypted_office"
    if "WordDocument".encode("utf-16-le") in data:
        return "doc"
    return "ole"


_TYPES_CAP = 256 * 1024
_WORD_MAIN = re.compile(
    rb"application/vnd\.(?:openxmlformats-officedocument\.wordprocessingml\.document"
    rb"|ms-word\.document\.macroEnabled)\.main\+xml"
)


#: A zip whose directory lists more entries (or is larger) than this is only "a zip":
#: the reader refuses it later; sniffing must stay cheap wherever it runs.
_MAX_ENTRIES = 2000
_MAX_DIRECTORY = 4 * 1024 * 1024


def _directory_too_big(data: bytes) -> bool:
    """The end-of-central-directory record says the zip is too big to list cheaply."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return False
    entries = int.from_bytes(data[end + 10 : end + 12], "little")
    size = int.from_bytes(data[end + 12 : end + 16], "little")
    return entries > _MAX_ENTRIES or size > _MAX_DIRECTORY


def _zip_kind(data: bytes) -> FileKind:
    if _directory_too_big(data):
        return "zip"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = b""
            if "mimetype" in names and archive.getinfo("mimetype").file_size < 200:
                mimetype = archive.read("mimetype")
            types = b""
            if "[Content_Types].xml" in names and (
                archive.getinfo("[Content_Types].xml").file_size < _TYPES_CAP
            ):
                types = archive.read("[Content_Types].xml")
    except ZIP_ERRORS:
        # Starts like a zip (a .docx, .odt or archive) but cannot be opened: cut short in
        # transit or otherwise damaged, which is worth saying to the sender.
        return "damaged" if data.startswith(PK_MAGIC) else "other"
    if "word/document.xml" in names or _WORD_MAIN.search(types):
        # A main part under another name, or a Strict Open XML document, says what it
        # is in [Content_Types].xml.
        macro = "word/vbaProject.bin" in names or b"macroEnabled.main" in types
        return "docm" if macro else "docx"
    if mimetype.startswith(b"application/vnd.oasis.opendocument.text"):
        return "odt"
    return "zip"


def sniff(data: bytes) -> FileKind:
    """The kind of file ``data`` is."""
    if not data[:1024].strip() and not data.strip():
        return "empty"
    head = data[:1024]
    if data.startswith(PK_MAGIC) or data.startswith(b"PK\x05\x06"):
        return _zip_kind(data)
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith(OLE_MAGIC):
        return _ole_kind(data)
    if head.startswith(_IMAGES):
        return "image"
    if data.startswith(b"{\\rtf"):
        return "rtf"
    return "other"
