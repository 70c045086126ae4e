"""Word 97-2003 and OpenDocument forms, converted by a real LibreOffice when installed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers.services import missing_service

from mailbot.forms import read_attachments
from mailbot.forms.convert import soffice_path

FORMS = Path(__file__).resolve().parents[1] / "data" / "forms"


def _convert(source: Path, target: str, folder: Path) -> bytes:
    soffice = soffice_path()
    assert soffice is not None
    subprocess.run(
        [
            soffice,
            "--headless",
            "--norestore",
            f"-env:UserInstallation=file://{folder / 'profile'}",
            "--convert-to",
            target,
            "--outdir",
            str(folder),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (folder / f"{source.stem}.{target}").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("target", ["odt", "doc"])
def test_old_formats_are_converted_and_read(tmp_path: Path, target: str) -> None:
    if soffice_path() is None:
        missing_service(
            "LibreOffice is not installed: .doc/.odt are answered with a request "
            "for .docx or PDF instead (tested in test_forms_attachments)"
        )
    data = _convert(FORMS / "coc-01-complete.docx", target, tmp_path)
    (verdict,) = read_attachments(
        [(f"referral.{target}", "application/octet-stream", data)],
        max_bytes=25 * 1024 * 1024,
        reference_year=2026,
    )
    assert verdict.kind == "form", verdict.reason
    assert verdict.form is not None
    expected = json.loads((FORMS / "coc-01-complete.expected.json").read_text())
    got = verdict.form.referral
    assert got["child"]["full_name"] == expected["child"]["full_name"]
    assert got["child"]["dob"] == expected["child"]["dob"]
    assert got["themes"] == expected["themes"]
    assert verdict.form.missing_required == []
