"""Old formats (.doc, .odt) turned into .docx by LibreOffice, when it is installed.

Runs ``soffice --headless --convert-to docx`` in a private temporary folder with a
time limit; the referrer's file name is never used on disk.  Without LibreOffice the
file is refused with a request for a .docx or PDF copy.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from mailbot.errors import FormRejected

NEEDS_DOCX = (
    "The form is in an older or different word-processor format that we cannot read. "
    "Please save it as a Word document (.docx) or PDF and send it again."
)
TIMEOUT_SECONDS = 60


def soffice_path() -> str | None:
    """Where LibreOffice is, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_docx(data: bytes, suffix: str) -> bytes:
    """The document converted to .docx; FormRejected when that is not possible."""
    soffice = soffice_path()
    if soffice is None:
        raise FormRejected(NEEDS_DOCX)
    with tempfile.TemporaryDirectory(prefix="mailbot-convert-") as tmp:
        folder = Path(tmp)
        source = folder / f"input.{suffix}"
        source.write_bytes(data)
        command = [
            soffice, "--headless", "--norestore", "--nolockcheck",
            f"-env:UserInstallation=file://{folder / 'profile'}",
            "--convert-to", "docx", "--outdir", str(folder / "out"), str(source),
        ]
        try:
            subprocess.run(  # noqa: S603 - fixed argument list, no shell
                command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False
            )
        except (subprocess.TimeoutExpired, OSError) as exc:
            raise FormRejected(NEEDS_DOCX) from exc
        result = folder / "out" / "input.docx"
        if not result.is_file():
            raise FormRejected(NEEDS_DOCX)
        return result.read_bytes()
