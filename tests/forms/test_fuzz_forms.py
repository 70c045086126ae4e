"""Property-based fuzzing of the form reader (issue 13): mutated public forms.

Whatever the bytes, ``read_attachments`` gives verdicts (or raises one of the bot's own
errors) within a time bound; never another exception.  CI runs a fixed, bounded set of
examples; ``MAILBOT_FUZZ_EXAMPLES=2000`` runs a long, freely exploring session.
"""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from helpers import hostile
from helpers.fuzzing import fuzz_settings, mutated
from hypothesis import given
from hypothesis import strategies as st

from mailbot.errors import MailbotError
from mailbot.forms import read_attachments
from mailbot.forms.model import AttachmentVerdict

#: A failing example's repr can be large; the failure, not that warning, is the news.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
MAX = 25 * hostile.MB
KINDS = {"form", "not_form", "reject", "manual"}
DOCX = hostile.form_bytes("coc-07-tagged-controls.docx")
PDF = (hostile.FORMS / "coc-10-incomplete-flattened.pdf").read_bytes()
SECONDS = 30.0


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


DOCX_MEMBERS = members(DOCX)


def judged(data: bytes, name: str = "referral.docx") -> list[AttachmentVerdict]:
    start = time.perf_counter()
    try:
        verdicts = read_attachments(
            [(name, "application/octet-stream", data)], max_bytes=MAX, reference_year=2026
        )
    except MailbotError:
        return []
    assert time.perf_counter() - start < SECONDS
    for verdict in verdicts:
        assert verdict.kind in KINDS
        assert (verdict.form is not None) == (verdict.kind == "form")
        assert verdict.kind == "form" or isinstance(verdict.reason, str)
        assert len(verdict.content_type) <= 128
    return verdicts


@fuzz_settings(40)
@given(mutated(DOCX_MEMBERS["word/document.xml"], max_edits=6))
def test_mutated_document_xml(xml: bytes) -> None:
    judged(hostile.zipped({**DOCX_MEMBERS, "word/document.xml": xml}))


@fuzz_settings(40)
@given(mutated(DOCX, max_edits=3))
def test_mutated_zip_structure(data: bytes) -> None:
    judged(data)


@fuzz_settings(20)
@given(
    st.lists(st.sampled_from(sorted(DOCX_MEMBERS)), unique=True, max_size=4),
    st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
    st.binary(max_size=64),
)
def test_members_dropped_or_renamed(drop: list[str], method: int, junk: bytes) -> None:
    kept = {name: data for name, data in DOCX_MEMBERS.items() if name not in drop}
    kept["../" + (drop[0] if drop else "x.bin")] = junk
    judged(hostile.zipped(kept, method))


@fuzz_settings(12)
@given(mutated(PDF, max_edits=3))
def test_mutated_pdf_bytes(data: bytes) -> None:
    judged(data, "referral.pdf")
