"""Every public form in tests/data/forms against its expected.json, field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.forms_truth import comparable, flatten

from mailbot.forms import read_form_bytes

DATA = Path(__file__).resolve().parents[1] / "data" / "forms"
FORMS = sorted(
    p
    for p in DATA.glob("coc-*")
    if p.suffix in (".docx", ".pdf") and p.with_name(p.stem + ".expected.json").exists()
)


def test_every_public_form_is_tested() -> None:
    assert len(FORMS) == 11
    assert {p.suffix for p in FORMS} == {".docx", ".pdf"}


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.stem)
def test_form_matches_expected_json(path: Path) -> None:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
    form = read_form_bytes(path.read_bytes(), path.name, reference_year=2026)
    got = dict(form.referral, missing_required=form.missing_required)
    want_flat, got_flat = flatten(expected), flatten(got)
    assert set(got_flat) == set(want_flat)
    wrong = {
        key: (want_flat[key], got_flat[key])
        for key in want_flat
        if comparable(key, want_flat[key]) != comparable(key, got_flat[key])
    }
    assert wrong == {}
    assert form.queries == []


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.stem)
def test_every_value_has_provenance(path: Path) -> None:
    form = read_form_bytes(path.read_bytes(), reference_year=2026)
    flat = {
        k: v for k, v in flatten(form.referral).items() if v not in (None, []) and not k.endswith("length")
    }
    themed = {f"themes.{i}" for i, _ in enumerate(form.referral["themes"])}
    assert set(form.provenance) == (set(flat) - {"themes"}) | themed
    allowed = ("content_control", "legacy_field", "table_cell", "glyph", "pdf_text", "pdf_field")
    assert all(v.split(":")[0] in allowed for v in form.provenance.values())
    if path.suffix == ".pdf":
        assert all(v.startswith("pdf_") for v in form.provenance.values())


def test_provenance_names_the_mechanism() -> None:
    form = read_form_bytes((DATA / "coc-01-complete.docx").read_bytes(), reference_year=2026)
    assert form.provenance["referral_date"] == "content_control:date"
    assert form.provenance["child.ethnicity"] == "content_control:dropdown"
    assert form.provenance["themes.0"] == "content_control:checkbox"
    assert form.provenance["household.0.dob"] == "table_cell"
    ticks = read_form_bytes((DATA / "coc-04-manual-ticks.docx").read_bytes())
    assert set(v for k, v in ticks.provenance.items() if k.startswith("themes")) == {"glyph"}


def test_libreoffice_copy_reads_like_the_original() -> None:
    original = read_form_bytes((DATA / "coc-01-complete.docx").read_bytes())
    resaved = read_form_bytes((DATA / "coc-08-libreoffice-saved.docx").read_bytes())
    assert flatten(resaved.referral) == flatten(original.referral)
