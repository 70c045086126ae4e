"""Regression tests for misreadings an adversarial tester found, one per variation.

Each form is built from the blank in code (``forms_variants``); the names follow the
tester's report.
"""

from __future__ import annotations

from copy import deepcopy

import pytest
from helpers.forms_variants import (
    W14,
    Form,
    W,
    add_household_members,
    as_strict,
    font_run,
    main_part_renamed,
    paste_blank_copy_first,
    picker,
    put_in_frame,
    run,
    sdt_of,
    set_cell_text,
    symbol_run,
    text_of,
    w,
)

from mailbot.forms import ParsedForm, read_form_bytes
from mailbot.forms.dates import parse_uk_date
from mailbot.forms.pdf_reader import cell_text

EHE = "EHE (Elective home education)"
ANN = {"name": "Ann One", "relationship": "Mother", "gender": "Female", "dob": "1990-01-01"}
BOB = {"name": "Bob Two", "relationship": "Father", "gender": "Male", "dob": "1985-02-02"}
MEMBERS = [("Ann One", "Mother", "Female", "01/01/1990"), ("Bob Two", "Father", "Male", "02/02/1985")]


def parse(form: Form | bytes, year: int | None = 2026) -> ParsedForm:
    data = form if isinstance(form, bytes) else form.to_bytes()
    return read_form_bytes(data, reference_year=year)


def queries(parsed: ParsedForm) -> list[tuple[str, str]]:
    return [(q.field, q.problem) for q in parsed.queries]


def household_table_rows(form: Form) -> list:
    return form.tables()[1].findall(W + "tr")


# ------------------------------------------------------------ 1. tick after the EHE label
@pytest.mark.parametrize("mark", [" X", " ☒"], ids=["X-after-EHE-label", "glyph-after-EHE-label"])
def test_tick_after_ehe_label_is_ehe_not_physical_abuse(mark: str) -> None:
    form = Form().fill()
    p = form.theme_controls()[EHE]
    p.remove(p.find(W + "sdt"))
    p.append(run(mark))
    assert parse(form).referral["themes"] == [EHE]


def test_x_after_ehe_label_with_its_empty_box_still_there() -> None:
    form = Form().fill()
    form.theme_controls()[EHE].append(run(" X"))
    assert parse(form).referral["themes"] == [EHE]


def test_box_ticked_before_physical_abuse_is_still_physical_abuse() -> None:
    form = Form().fill()
    form.tick_control("Physical Abuse")
    assert parse(form).referral["themes"] == ["Physical Abuse"]


# ------------------------------------------------------------ 2. full-width household rows
def test_address_label_overtyped_with_the_address() -> None:
    form = Form().fill()
    add_household_members(form, MEMBERS[:1])
    set_cell_text(household_table_rows(form)[-1].find(W + "tc"), "14 Imaginary Road, Croydon")
    parsed = parse(form)
    assert parsed.referral["household"] == [ANN]
    assert parsed.referral["household_address"] == "14 Imaginary Road, Croydon"
    assert parsed.queries == []


def test_note_row_across_the_household_table_is_not_a_member() -> None:
    form = Form().fill()
    add_household_members(form, MEMBERS[:1])
    note = deepcopy(household_table_rows(form)[-1])
    set_cell_text(note.find(W + "tc"), "No other household members")
    form.household_rows()[-1].addnext(note)
    parsed = parse(form)
    assert parsed.referral["household"] == [ANN]
    assert parsed.referral["household_address"] is None
    assert parsed.queries == []


# ------------------------------------------------------------ 3./4. date pickers
@pytest.mark.parametrize(
    ("shown", "stored"),
    [("3/4/2015", "2015-03-04"), ("3/14/2015", "2015-03-14")],
    ids=["month-first-ambiguous", "month-first-unambiguous"],
)
def test_month_first_picker_uses_its_date_format(shown: str, stored: str) -> None:
    form = Form().fill()
    form.set_control("Date of Birth", shown, full_date=stored)
    picker(form, "Date of Birth").find(W + "dateFormat").set(W + "val", "M/d/yyyy")
    assert parse(form).referral["child"]["dob"] == stored


def test_stored_date_wins_over_the_same_date_shown_month_first() -> None:
    form = Form().fill()  # dateFormat left dd/MM/yyyy: the text is the stored date swapped
    form.set_control("Date of Birth", "3/4/2015", full_date="2015-03-04")
    assert parse(form).referral["child"]["dob"] == "2015-03-04"


def test_emptied_picker_with_a_stale_stored_date_is_empty() -> None:
    form = Form().fill()
    form.set_control("Date of Birth", "")
    parsed = parse(form)
    assert parsed.referral["child"]["dob"] is None
    assert "child.dob" in parsed.missing_required


# ------------------------------------------------------------ 5./6. NHS number and e-mail
@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("999-015-8398", "9990158398"),
        ("999.015.8398", "9990158398"),
        ("NHS: 999 015 8398", "9990158398"),
        ("Not known", None),
        ("N/K", None),
        ("n/a", None),
        ("awaiting", "awaiting"),
    ],
    ids=["dashes", "dots", "leading-label", "not-known", "n-k", "n-a", "other-text-as-written"],
)
def test_nhs_number_forms(typed: str, expected: str | None) -> None:
    form = Form().fill()
    set_cell_text(form.value_cell("NHS Number (Health only)"), typed)
    assert parse(form).referral["child"]["nhs_number"] == expected


def test_email_label_typed_in_the_value_cell_is_dropped() -> None:
    form = Form().fill()
    set_cell_text(form.value_cell("Email"), "Email: robin@example.org")
    assert parse(form).referral["referrer"]["email"] == "robin@example.org"


# ------------------------------------------------------------ 10. value in the label cell
@pytest.mark.parametrize(
    ("label", "typed", "path", "expected"),
    [
        ("Your Name", "Your Name: Jo Bloggs", ("referrer", "name"), "Jo Bloggs"),
        ("Full Name", "Full Name: Casey Typed", ("child", "full_name"), "Casey Typed"),
        ("Email", "Email: jo@example.org", ("referrer", "email"), "jo@example.org"),
        ("Home address", "Home address: 3 Fictional Row", ("child", "address"), "3 Fictional Row"),
        (
            "NHS Number (Health only)",
            "NHS Number (Health only): 999 015 8398",
            ("child", "nhs_number"),
            "9990158398",
        ),
        (
            "Date of Death (if applicable)",
            "Date of Death (if applicable): 01/02/2026",
            ("child", "dod"),
            "2026-02-01",
        ),
    ],
    ids=["your-name", "full-name", "email", "home-address", "nhs-bracket", "dod-bracket"],
)
def test_value_typed_in_the_label_cell(label: str, typed: str, path: tuple[str, str], expected: str) -> None:
    form = Form().fill()
    if label in ("Your Name", "Full Name", "Email", "Home address"):
        set_cell_text(form.value_cell(label), "")
    set_cell_text(form.label_cell(label), typed)
    assert parse(form).referral[path[0]][path[1]] == expected


# ------------------------------------------------------------ 11. placeholder flag left on
def test_placeholder_flag_left_on_a_real_value() -> None:
    form = Form().fill()
    form.set_control("Date of Birth", "14/07/2010", full_date="2010-07-14")
    sdt_of(form.value_cell("Date of Birth")).find(W + "sdtPr").append(w("showingPlcHdr"))
    assert parse(form).referral["child"]["dob"] == "2010-07-14"


def test_placeholder_flag_on_the_placeholder_text_is_empty() -> None:
    parsed = parse(Form())
    assert parsed.referral["child"]["dob"] is None and parsed.queries == []


# ------------------------------------------------------------ 16./17. dates as written
@pytest.mark.parametrize("typed", ["N/A", "n/a", "Not applicable", "-", "None", "N/K"])
def test_nothing_to_give_in_a_date_is_empty_without_a_query(typed: str) -> None:
    form = Form().fill()
    form.set_control("Date of Death (if applicable)", typed)
    parsed = parse(form)
    assert parsed.referral["child"]["dod"] is None
    assert parsed.queries == []


def test_household_dob_not_known_is_empty_without_a_query() -> None:
    form = Form().fill()
    add_household_members(form, [("Dad Unknown", "Father", "Male", "N/K")])
    parsed = parse(form)
    assert parsed.referral["household"][0]["dob"] is None and parsed.queries == []


@pytest.mark.parametrize(
    "typed",
    [
        "October 5, 2026",
        "Oct 5 2026",
        "05/10/2026.",
        "05 10 2026",
        "05\u201310\u20132026",
        "05/10/2026 14:30",
        "05/10/2026 (today)",
    ],
    ids=[
        "month-first-words",
        "month-first-short",
        "trailing-dot",
        "spaces",
        "en-dash",
        "with-time",
        "bracketed-note",
    ],
)
def test_dates_written_other_ways(typed: str) -> None:
    form = Form().fill()
    form.set_control("Date of referral", typed)
    del picker(form, "Date of referral").attrib[W + "fullDate"]
    parsed = parse(form)
    assert parsed.referral["referral_date"] == "2026-10-05"
    assert parsed.queries == []


def test_picked_date_with_an_age_note() -> None:
    form = Form().fill()
    form.value_cell("Date of Birth").find(f".//{W}p").append(run(" (age 11)"))
    assert parse(form).referral["child"]["dob"] == "2015-03-03"


def test_digits_run_together_are_still_unreadable() -> None:
    assert parse_uk_date("0510 2026", 2026).unreadable
    assert parse_uk_date("October 2026", 2026).unreadable


# ------------------------------------------------------------ 15. household header
def test_household_header_row_deleted_reads_printed_order() -> None:
    form = Form().fill()
    add_household_members(form, MEMBERS)
    header = household_table_rows(form)[1]
    header.getparent().remove(header)
    assert parse(form).referral["household"] == [ANN, BOB]


@pytest.mark.parametrize(
    "header",
    [
        ("Name", "Relationship to the child", "Gender/Sex", "DOB / Age"),
        ("Full Name", "Relationship", "Sex", "D.O.B."),
    ],
    ids=["retyped", "aliases"],
)
def test_household_header_retyped(header: tuple[str, ...]) -> None:
    form = Form().fill()
    add_household_members(form, MEMBERS)
    for tc, text in zip(household_table_rows(form)[1].findall(W + "tc"), header, strict=True):
        set_cell_text(tc, text)
    assert parse(form).referral["household"] == [ANN, BOB]


# ------------------------------------------------------------ 7.-9. document structure
def test_strict_open_xml_document() -> None:
    parsed = parse(as_strict(Form().fill()))
    assert parsed.referral["child"]["full_name"] == "Casey Invented"
    assert parsed.missing_required == []


def test_main_part_under_another_name() -> None:
    parsed = parse(main_part_renamed(Form().fill()))
    assert parsed.referral["referral_date"] == "2026-10-05"
    assert parsed.missing_required == []


def test_form_inside_a_one_cell_frame_table() -> None:
    form = Form().fill()
    put_in_frame(form)
    parsed = parse(form)
    assert parsed.referral["referrer"]["name"] == "Robin Sampleton"
    assert parsed.missing_required == []


def test_form_pasted_twice_blank_copy_first() -> None:
    form = Form().fill()
    add_household_members(form, MEMBERS[:1])
    form.tick_control("Housing")
    paste_blank_copy_first(form)
    parsed = parse(form)
    assert parsed.missing_required == []
    assert parsed.referral["child"]["dob"] == "2015-03-03"
    assert parsed.referral["household"] == [ANN]
    assert parsed.referral["themes"] == ["Housing"]


# ------------------------------------------------------------ 12.-14. ticks
@pytest.mark.parametrize(
    ("make", "ticked"),
    [
        (lambda: symbol_run("Wingdings 2", "F052"), True),
        (lambda: symbol_run("Wingdings 2", "F054"), True),
        (lambda: symbol_run("Wingdings 2", "F050"), True),
        (lambda: symbol_run("Wingdings 2", "F0A3"), False),
        (lambda: symbol_run("Symbol", "F0D6"), True),
        (lambda: symbol_run("Wingdings", "F0FE"), True),
        (lambda: symbol_run("Wingdings", "F0A8"), False),
        (lambda: font_run("Wingdings", "þ"), True),
        (lambda: font_run("Wingdings", "ý"), True),
        (lambda: font_run("Wingdings", "¨"), False),
        (lambda: font_run("Wingdings", "\uf0fe"), True),
        (lambda: font_run("Wingdings", "\uf0a8"), False),
    ],
    ids=[
        "wd2-boxed-tick",
        "wd2-boxed-x",
        "wd2-tick",
        "wd2-box",
        "symbol-sqrt",
        "wd-sym-ticked",
        "wd-sym-box",
        "wd-text-thorn",
        "wd-text-y-acute",
        "wd-text-box",
        "wd-private-use-ticked",
        "wd-private-use-box",
    ],
)
def test_symbol_font_ticks(make, ticked: bool) -> None:
    form = Form().fill()
    form.replace_box("Self-harm", make)
    assert parse(form).referral["themes"] == (["Self-harm"] if ticked else [])


def test_letter_typed_in_a_text_font_is_not_a_tick() -> None:
    form = Form().fill()
    form.replace_box("Self-harm", lambda: font_run("Arial", "þ"))
    assert parse(form).referral["themes"] == []


@pytest.mark.parametrize("heading", ["Do any of the following apply?", "Do any of the following apply"])
def test_retyped_themes_heading(heading: str) -> None:
    form = Form().fill()
    form.tick_control("Housing")
    cell = next(
        tc
        for tc in form.root.iter(W + "tc")
        if text_of(tc).startswith("Do any of the following apply to this case")
    )
    set_cell_text(cell, heading)
    assert parse(form).referral["themes"] == ["Housing"]


def test_checked_without_val_is_ticked() -> None:
    form = Form().fill()
    checked = form.theme_controls()["Neglect"].find(f".//{W14}checked")
    checked.attrib.pop(W14 + "val", None)
    assert parse(form).referral["themes"] == ["Neglect"]


# ------------------------------------------------------------ 18. no reference year
def test_two_digit_years_without_a_reference_year_use_the_referral_year() -> None:
    form = Form().fill()
    form.set_control("Date of referral", "05/10/26")
    form.set_control("Date of Birth", "3 Mar 15")
    for label in ("Date of referral", "Date of Birth"):
        del picker(form, label).attrib[W + "fullDate"]
    parsed = parse(form, year=None)
    assert parsed.referral["referral_date"] == "2026-10-05"
    assert parsed.referral["child"]["dob"] == "2015-03-03"


# ------------------------------------------------------------ 19. printed list bullets
def _word(text: str, x0: float, top: float) -> dict[str, float | str]:
    return {"text": text, "x0": x0, "x1": x0 + 6.0 * len(text), "top": top, "bottom": top + 10}


@pytest.mark.parametrize("bullet", ["\uf0b7", "•"], ids=["symbol-private-use", "bullet"])
def test_printed_list_bullets_are_dropped(bullet: str) -> None:
    words = [
        _word("Background:", 10, 0),
        _word(bullet, 10, 14),
        _word("Referred", 20, 14),
        _word(bullet, 10, 28),
        _word("Waited", 20, 28),
    ]
    assert cell_text(words, right=400) == "Background:\nReferred\nWaited"
