"""Opening zip containers (a .docx is one) without letting them eat the machine.

A 408 KB .docx can inflate to 400 MB (NOTES.md); python-docx and lxml would read it
whole.  So the zip directory is checked (member count, declared sizes, compression
ratios, encryption flags) before any member is read, and every member is read with a
hard cap so a directory that lies about sizes is caught too.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from mailbot.errors import FormRejected

PK_MAGIC = b"PK\x03\x04"
#: What the standard library raises for a damaged zip (zlib.error: a corrupt member,
#: found by fuzzing).
ZIP_ERRORS = (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, zlib.error)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class ZipLimits:
    """How much a zip may hold before we refuse to open it."""

    max_members: int = 2000
    max_member_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 200 * 1024 * 1024
    #: Uncompressed / compressed; real Office XML compresses 5-20x.
    max_ratio: float = 150.0
    #: Small members may compress very well without harm (a run of spaces).
    ratio_floor_bytes: int = 1024 * 1024


DEFAULT_LIMITS = ZipLimits()

TOO_BIG = (
    "The attachment expands to far more data than a referral form holds, so it was "
    "not opened. Please send the form again as a normal Word (.docx) or PDF file."
)
DAMAGED = (
    "The attachment could not be opened: it looks damaged. Please send the form again "
    "as a Word (.docx) or PDF file."
)
LOCKED_FILE = (
    "The attachment is protected with a password, so it could not be read automatically. "
    "A member of the CSCP team will contact you by phone to ask for the password; please "
    "do not send the password by e-mail."
)


def open_checked_zip(data: bytes, limits: ZipLimits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """Open ``data`` as a zip after checking its directory; FormRejected if unsafe."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except ZIP_ERRORS as exc:
        raise FormRejected(DAMAGED) from exc
    if len(infos) > limits.max_members:
        raise FormRejected(TOO_BIG)
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise FormRejected(LOCKED_FILE)
        total += info.file_size
        if info.file_size > limits.max_member_bytes or total > limits.max_total_bytes:
            raise FormRejected(TOO_BIG)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise FormRejected(TOO_BIG)
    return archive


def read_member(archive: zipfile.ZipFile, name: str, limits: ZipLimits = DEFAULT_LIMITS) -> bytes | None:
    """One member's bytes, or None when absent; refuses to inflate past the cap."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    try:
        with archive.open(info) as stream:
            data = stream.read(limits.max_member_bytes + 1)
    except ZIP_ERRORS as exc:
        raise FormRejected(DAMAGED) from exc
    if len(data) > limits.max_member_bytes:
        raise FormRejected(TOO_BIG)
    return data
