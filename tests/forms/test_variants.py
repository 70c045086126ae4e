"""One test per quirk of real forms, each built from the blank form in code."""

from __future__ import annotations

import io

import docx
import pytest
from helpers.forms_variants import (
    EN_SPACES,
    Form,
    W,
    add_household_members,
    deleted,
    inserted,
    legacy_checkbox,
    legacy_text,
    paragraph,
    run,
    set_cell_children,
    w,
)

from mailbot.errors import FormRejected, NotACocForm
from mailbot.forms import read_form_bytes


def read(form: Form) -> tuple[dict, dict]:
    parsed = read_form_bytes(form.to_bytes(), reference_year=2026)
    return parsed.referral, parsed.provenance


def test_filled_blank_has_nothing_missing() -> None:
    referral, provenance = read(Form().fill())
    assert referral["referrer"]["name"] == "Robin Sampleton"
    assert referral["child"]["dob"] == "2015-03-03"
    assert provenance["child.dob"] == "content_control:date"
    assert read_form_bytes(Form().fill().to_bytes()).missing_required == []


def test_blank_form_is_recognised_and_everything_is_missing() -> None:
    parsed = read_form_bytes(Form().to_bytes(), reference_year=2026)
    assert len(parsed.missing_required) == 10
    assert parsed.referral["themes"] == [] and parsed.referral["household"] == []


def test_untagged_dropdown_and_checkbox_controls() -> None:
    form = Form().fill()
    form.set_control("Ethnicity", "White - Roma")
    form.set_control("Gender at birth", "Not known")
    form.tick_control("Housing")
    referral, provenance = read(form)
    assert referral["child"]["ethnicity"] == "White - Roma"
    assert referral["child"]["gender_at_birth"] == "Not known"
    assert provenance["child.ethnicity"] == "content_control:dropdown"
    assert referral["themes"] == ["Housing"]


def test_typed_dropdown_value_is_returned_as_typed() -> None:
    form = Form().fill()
    form.set_control("Ethnicity", "Cornish")
    assert read(form)[0]["child"]["ethnicity"] == "Cornish"


def test_legacy_checkboxes_checked_default_and_unchecked() -> None:
    form = Form().fill()
    form.replace_box("Neglect", lambda: legacy_checkbox(checked=True, default=False))
    form.replace_box("Housing", lambda: legacy_checkbox(checked=None, default=True))
    form.replace_box("NRM", lambda: legacy_checkbox(checked=False, default=True))
    referral, provenance = read(form)
    assert referral["themes"] == ["Neglect", "Housing"]
    assert provenance["themes.0"] == "legacy_field:checkbox"


def test_legacy_text_fields() -> None:
    form = Form().fill()
    set_cell_children(form.value_cell("Full Name"), *legacy_text("Jordan Legacy"))
    set_cell_children(form.value_cell("Your Role"), *legacy_text(EN_SPACES))
    referral, provenance = read(form)
    assert referral["child"]["full_name"] == "Jordan Legacy"
    assert provenance["child.full_name"] == "legacy_field"
    assert referral["referrer"]["role"] is None


@pytest.mark.parametrize(
    ("make", "ticked"),
    [
        (lambda: [run("☒")], True),
        (lambda: [run("☑")], True),
        (lambda: [run("✔")], True),
        (lambda: [run("✓")], True),
        (lambda: [run("X")], True),
        (lambda: [run("☐ x")], True),
        (lambda: [run("☐")], False),
    ],
    ids=["ballot-x", "ballot-check", "heavy-tick", "tick", "X-for-box", "x-after-box", "empty"],
)
def test_glyph_ticks(make, ticked: bool) -> None:
    form = Form().fill()
    form.replace_box("Self-harm", make)
    referral, provenance = read(form)
    assert referral["themes"] == (["Self-harm"] if ticked else [])
    if ticked:
        assert provenance["themes.0"] == "glyph"


def test_many_runs_proof_errors_bookmarks_and_hyperlinks() -> None:
    form = Form().fill()
    pieces = [
        run("Ro"),
        w("proofErr", type="spellStart"),
        run("bin"),
        w("bookmarkStart", id="5", name="x"),
        run(" Sample"),
        w("bookmarkEnd", id="5"),
        run("ton"),
    ]
    set_cell_children(form.value_cell("Your Name"), *pieces)
    link = w("hyperlink", anchor="x")
    link.append(run("robin@example.org"))
    set_cell_children(form.value_cell("Email"), link)
    referral, _ = read(form)
    assert referral["referrer"]["name"] == "Robin Sampleton"
    assert referral["referrer"]["email"] == "robin@example.org"


def test_tracked_changes_insertions_count_deletions_never() -> None:
    form = Form().fill()
    set_cell_children(
        form.value_cell("Your Agency"), run("Example "), deleted("Old "), inserted("New "), run("Trust")
    )
    add_household_members(
        form, [("Ann One", "Mother", "Female", "01/01/1990"), ("Del Eted", "Uncle", "Male", "02/02/1980")]
    )
    row = form.household_rows()[1]
    row.find(W + "trPr").append(w("del", id="903", author="R", date="2026-10-05T00:00:00Z"))
    referral, _ = read(form)
    assert referral["referrer"]["agency"] == "Example New Trust"
    assert [m["name"] for m in referral["household"]] == ["Ann One"]


def test_soft_breaks_and_tabs() -> None:
    form = Form().fill()
    first = run("Flat 5")
    first.append(w("br"))
    first.append(w("t", "19 Notional Parade"))
    second = run("Croydon")
    second.append(w("tab"))
    second.append(w("t", "CR0 9ZZ"))
    set_cell_children(form.value_cell("Home address"), first, second)
    referral, _ = read(form)
    assert referral["child"]["address"] == "Flat 5\n19 Notional Parade Croydon\tCR0 9ZZ".replace(
        " Croydon", "Croydon"
    )


def test_household_of_seven() -> None:
    form = Form().fill()
    members = [(f"Person {i}", "Sibling", "Female", f"0{i}/01/2010") for i in range(1, 8)]
    add_household_members(form, members)
    referral, provenance = read(form)
    assert len(referral["household"]) == 7
    assert referral["household"][6] == {
        "name": "Person 7",
        "relationship": "Sibling",
        "gender": "Female",
        "dob": "2010-01-07",
    }
    assert provenance["household.6.dob"] == "table_cell"


def test_household_rows_removed_and_partial_member() -> None:
    form = Form().fill()
    add_household_members(form, [("", "Father", "", "")])
    for tr in form.household_rows()[1:]:
        tr.getparent().remove(tr)
    referral, _ = read(form)
    assert referral["household"] == [{"name": None, "relationship": "Father", "gender": None, "dob": None}]


def test_retyped_labels_nbsp_colons_and_case() -> None:
    form = Form().fill()
    for old, new in [("Your Name", "Your name:"), ("Full Name", "Full\u00a0Name"), ("Email", "EMAIL :")]:
        tc = form.label_cell(old)
        next(tc.iter(W + "t")).text = new
    referral, _ = read(form)
    assert referral["referrer"]["name"] == "Robin Sampleton"
    assert referral["child"]["full_name"] == "Casey Invented"
    assert referral["referrer"]["email"] == "robin.sampleton@health.example.org"


def test_form_pasted_under_a_heading_in_another_document() -> None:
    form = Form().fill()
    body = form.body
    for i, text in enumerate(["Cover note", "Dear team, the referral follows.", "Appendix A"]):
        body.insert(i, paragraph(run(text)))
    body.insert(len(body) - 1, paragraph(run("Kind regards")))
    referral, _ = read(form)
    assert referral["child"]["full_name"] == "Casey Invented"
    assert referral["referral_date"] == "2026-10-05"


def test_a_letter_is_not_the_form() -> None:
    letter = docx.Document()
    letter.add_heading("Case of Concern Review - covering letter", 1)
    letter.add_paragraph("Your Name: Robin. Please find the referral form attached.")
    buffer = io.BytesIO()
    letter.save(buffer)
    with pytest.raises(NotACocForm):
        read_form_bytes(buffer.getvalue())


def test_a_chronology_table_is_not_the_form() -> None:
    chronology = docx.Document()
    table = chronology.add_table(rows=3, cols=3)
    for i, row in enumerate(table.rows):
        for j, cell in enumerate(row.cells):
            cell.text = ["Date", "Event", "Agency"][j] if i == 0 else f"0{i}/01/2026"
    buffer = io.BytesIO()
    chronology.save(buffer)
    with pytest.raises(NotACocForm):
        read_form_bytes(buffer.getvalue())


def test_unreadable_date_is_null_with_a_query() -> None:
    form = Form().fill()
    form.set_control("Date of Birth", "sometime in spring")
    parsed = read_form_bytes(form.to_bytes(), reference_year=2026)
    assert parsed.referral["child"]["dob"] is None
    assert [(q.field, q.problem) for q in parsed.queries] == [("child.dob", "the date could not be read")]
    assert "child.dob" in parsed.missing_required


def test_unborn_child_with_edd_is_not_an_unreadable_date() -> None:
    form = Form().fill()
    form.set_control("Date of Birth", "unborn, EDD 03/2027")
    parsed = read_form_bytes(form.to_bytes(), reference_year=2026)
    assert parsed.queries == []


def test_macro_enabled_document_is_refused() -> None:
    data = Form().fill().to_bytes({"word/vbaProject.bin": b"\x00" * 64})
    with pytest.raises(FormRejected, match="macro"):
        read_form_bytes(data)


def test_sprg_lines_and_outcome_typed() -> None:
    form = Form().fill()
    for p in form.body.findall(W + "p"):
        text = "".join(t.text or "" for t in p.iter(W + "t"))
        if text.startswith("Chair of SPRG Meeting"):
            next(p.iter(W + "t")).text = "Chair of SPRG Meeting: Dr A. Example……"
            for t in list(p.iter(W + "t"))[1:]:
                t.text = ""
    form.set_control("Decision made to conduct a multi-agency Learning Inquiry", "Y")
    referral, _ = read(form)
    assert referral["sprg"]["chair"] == "Dr A. Example"
    assert referral["outcome"]["multi_agency"]["decision"] == "Y"
