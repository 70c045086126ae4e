"""The public surface: parse_json/parse_report, labels for replies, the form description."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from mailbot.errors import NotACocForm
from mailbot.forms import (
    REQUIRED_FIELDS,
    THEMES,
    empty_referral,
    field_label,
    parse_json,
    parse_report,
    read_form_bytes,
)
from mailbot.forms.description import parse_description

DATA = Path(__file__).resolve().parents[1] / "data" / "forms"


def test_parse_json_has_the_interface_shape() -> None:
    form = read_form_bytes((DATA / "coc-02-incomplete.docx").read_bytes(), reference_year=2026)
    payload = parse_json(form)
    expected = json.loads((DATA / "coc-02-incomplete.expected.json").read_text())
    assert payload["missing_required"] == expected.pop("missing_required")
    assert payload["referral"] == expected
    assert payload["provenance"]["child.ethnicity"] == "content_control:dropdown"
    json.dumps(payload)


def test_parse_json_for_a_reject() -> None:
    assert parse_json(NotACocForm("x")) == {"reject": "x"}


def test_parse_report_reads_for_a_person() -> None:
    form = read_form_bytes((DATA / "coc-02-incomplete.docx").read_bytes(), reference_year=2026)
    report = parse_report(form)
    assert "Your Role: (empty)" in report
    assert "[form control (date)]" in report
    assert "Missing required information:" in report
    assert "  - the child's Date of Birth" in report


def test_required_fields_and_themes_follow_fields_md() -> None:
    assert REQUIRED_FIELDS[0] == "referrer.name" and REQUIRED_FIELDS[-1] == "anticipated_learning"
    assert len(REQUIRED_FIELDS) == 10
    assert len(THEMES) == 23 and "Domestic violence" in THEMES


def test_field_label_uses_the_forms_wording() -> None:
    assert field_label("child.dob") == "the child's Date of Birth"
    assert field_label("referrer.role") == "Your Role"
    assert field_label("household.1.dob") == "the Date of Birth of household member 2"


def test_empty_referral_has_every_key() -> None:
    record = empty_referral()
    expected = json.loads((DATA / "coc-01-complete.expected.json").read_text())
    expected.pop("missing_required")
    assert list(record) == list(expected)
    assert record["child"].keys() == expected["child"].keys()
    assert record["household"] == [] and record["child"]["dob"] is None


def test_a_new_revision_is_a_data_change() -> None:
    import mailbot.forms.description as description

    raw = tomllib.loads((Path(description.__file__).parent / "coc_form.toml").read_text())
    raw["fields"][0]["labels"].append("Referrer")
    desc = parse_description(raw)
    assert "Referrer" in desc.field("referrer.name").labels
    assert desc.ethnicities[-1] == "Prefer not to say"
