"""A pack for a full meeting: every case, in order, with its own fields and nobody else's.

The pack's body is built element by element (``pack_xml``), so a slip (a row appended to
the wrong table, a case's section written twice, a field from the case before) would not
show in a pack of one or two cases; these read a 40-case pack back in document order.
The meeting's cases come from the store in a fixed number of queries, whatever their
number, and are the same as reading each case on its own.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.table import Table
from docx.text.paragraph import Paragraph
from helpers.bot import make_app
from helpers.pack_cases import fictional_referrals, put_on_meeting
from sqlalchemy import event, select
from sqlalchemy.exc import NoResultFound

from mailbot.cases import store as case_store
from mailbot.clock import FixedClock
from mailbot.sprg.decisions import with_recorded_decision
from mailbot.sprg.pack import build_pack
from mailbot.sprg.scheduling import PackCase, cases_of_meeting
from mailbot.store.models import Case
from mailbot.store.vault import Vault

MEETING = date(2026, 12, 17)
COUNT = 40


def uk(value: str | None) -> str:
    return date.fromisoformat(value).strftime("%d/%m/%Y") if value else ""


def blocks(data: bytes) -> list[Paragraph | Table]:
    return list(docx.Document(io.BytesIO(data)).iter_inner_content())


def rows(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def sections(items: list[Paragraph | Table]) -> tuple[list[Paragraph | Table], list[list[Paragraph | Table]]]:
    """The cover, then each case's blocks (each case starts at a page-breaking heading)."""
    cover: list[Paragraph | Table] = []
    cases: list[list[Paragraph | Table]] = []
    for item in items:
        if isinstance(item, Paragraph) and item.paragraph_format.page_break_before:
            cases.append([])
        (cases[-1] if cases else cover).append(item)
    return cover, cases


def after_heading(section: list[Paragraph | Table], heading: str) -> list[str]:
    """The paragraphs' texts between a Heading 2 and the next heading or table."""
    out: list[str] = []
    started = False
    for item in section:
        if isinstance(item, Paragraph) and item.style is not None and item.style.name.startswith("Heading"):
            if started:
                break
            started = item.text == heading
        elif started:
            if isinstance(item, Table):
                break
            out.append(item.text)
    return out


def expected_tables(r: dict[str, Any]) -> list[list[list[str]]]:
    referrer, child = r["referrer"], r["child"]
    tables = [
        [
            ["Name", referrer["name"]],
            ["Role", referrer.get("role") or "-"],
            ["Agency", referrer["agency"]],
            ["Email", referrer["email"]],
            ["Date of referral", uk(r["referral_date"])],
        ],
        [
            ["Full name", child["full_name"]],
            ["Date of birth", uk(child["dob"])],
            ["Date of death", uk(child["dod"]) or "not applicable"],
            ["Home address", child["address"]],
            ["Ethnicity", child.get("ethnicity") or "-"],
            ["Gender at birth", child.get("gender_at_birth") or "-"],
            ["Identifies with the sex registered at birth", child.get("gender_same_as_birth") or "-"],
            ["SEND", child.get("send") or "-"],
            ["NHS number", child["nhs_number"]],
            ["CRS number", child["crs_number"]],
            ["PNC number", child.get("pnc_number") or "-"],
        ],
    ]
    if r["household"]:
        header = ["Name", "Relationship to child", "Gender", "Date of birth"]
        members = [[m["name"], m["relationship"], m["gender"], uk(m["dob"])] for m in r["household"]]
        tables.append([header, *members])
    tables.append([["Household address", r["household_address"]]])
    return tables


def test_a_pack_of_many_cases_has_every_case_in_order_with_its_own_fields() -> None:
    referrals = fictional_referrals(COUNT)
    cases = [
        PackCase(f"COC-2026-{n + 1:04d}", "scheduled", r, ["COC-2025-0099"] if n == 7 else [])
        for n, r in enumerate(referrals)
    ]
    data = build_pack(MEETING, cases, chair="The Chair", compiled_on=MEETING)
    cover, found = sections(blocks(data))

    listing = rows([t for t in cover if isinstance(t, Table)][1])
    assert listing[0] == ["#", "Reference", "Referring agency", "Age", "Themes"]
    assert [row[:3] for row in listing[1:]] == [
        [
            str(n),
            c.ref + ("\n(possible duplicate of COC-2025-0099)" if n == 8 else ""),
            c.referral["referrer"]["agency"],
        ]
        for n, c in enumerate(cases, start=1)
    ]
    assert len(found) == COUNT
    names = [r["child"]["full_name"] for r in referrals]
    for n, (case, section) in enumerate(zip(cases, found, strict=True), start=1):
        r = case.referral
        heading, lead = section[0], section[1]
        assert isinstance(heading, Paragraph) and heading.text == f"Case {n}: {case.ref}"
        assert isinstance(lead, Paragraph)
        assert lead.text.startswith(f"Referred by {r['referrer']['agency']} on {uk(r['referral_date'])}. ")
        assert ("Possible duplicate" in section[2].text) == (n == 8)  # type: ignore[union-attr]
        tables = [rows(t) for t in section if isinstance(t, Table)]
        assert tables[:-1] == expected_tables(r), case.ref
        outcome = tables[-1]
        assert [row[0] for row in outcome] == [
            "Outcome",
            "Decision made to conduct a single agency Learning Inquiry",
            "Decision made to conduct a multi-agency Learning Inquiry",
            "Methodology (including whether parents/child involved)",
            "Date for final report at SPRG",
            "Any other actions (with name/date)",
        ]
        incident = [line.rstrip() for line in r["incident_details"].split("\n") if line.strip()]
        assert after_heading(section, "Incident details and history") == incident
        learning = [line.rstrip() for line in (r["anticipated_learning"] or "").split("\n") if line.strip()]
        assert after_heading(section, "Anticipated learning and questions suggested") == (
            learning or ["Not given on the form."]
        )
        assert after_heading(section, "Themes") == [", ".join(r["themes"]) or "No themes ticked on the form."]
        text = "\n".join(
            item.text if isinstance(item, Paragraph) else "\n".join("\n".join(row) for row in rows(item))
            for item in section
        )
        assert [name for name in names if name in text] == [r["child"]["full_name"]], case.ref
    # Nobody is named where a pack shows outside its pages: properties, header, footer.
    document = docx.Document(io.BytesIO(data))
    props = document.core_properties
    section = document.sections[0]
    outside = [
        props.title,
        props.subject,
        props.author,
        props.comments,
        props.keywords,
        props.last_modified_by,
    ]
    outside += [p.text for p in section.header.paragraphs + section.footer.paragraphs]
    for r in referrals:
        for value in (
            r["child"]["full_name"],
            r["referrer"]["name"],
            r["household"] and r["household"][0]["name"],
        ):
            assert not value or all(value not in (text or "") for text in outside)


def test_the_meetings_cases_come_in_two_queries_and_match_reading_each_case(
    tmp_path: Path, database_url: str
) -> None:
    app = make_app(tmp_path, database_url, FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC)))
    try:
        referrals = fictional_referrals(12)
        referrals[4]["child"] = dict(referrals[3]["child"])  # the same child twice
        put_on_meeting(app, referrals, MEETING, decided_every=5)
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
            statements.append(statement)

        event.listen(app.db.engine, "before_cursor_execute", seen)
        fresh = Vault(app.vault.keys, app.clock)  # no data key held yet, as in a new process
        with app.db.session() as session:
            found = cases_of_meeting(session, fresh, MEETING)
        event.remove(app.db.engine, "before_cursor_execute", seen)
        assert len(statements) == 2, statements

        with app.db.session() as session:
            one_by_one = []
            for case in session.scalars(select(Case).order_by(Case.ref)):
                stored, _row = case_store.load_referral(session, app.vault, case)
                referral = with_recorded_decision(session, app.vault, case, stored)
                dups = case_store.possible_duplicates(session, case)
                one_by_one.append(PackCase(case.ref, case.status, referral, dups))
        assert found == one_by_one
        assert [c.ref for c in found] == [f"COC-2026-{n:04d}" for n in range(1, 13)]
        assert found[3].duplicates == ["COC-2026-0005"] and found[4].duplicates == ["COC-2026-0004"]
        decided = [c.ref for c in found if c.status == "decided"]
        assert decided == ["COC-2026-0005", "COC-2026-0010"]
        assert found[4].referral["outcome"]["single_agency"]["grounds"] == "Grounds 5"
        assert found[0].referral["child"]["full_name"] == referrals[0]["child"]["full_name"]
    finally:
        app.close()


@pytest.mark.parametrize("count", [0, 1])
def test_a_small_meeting_reads_in_at_most_two_queries(tmp_path: Path, count: int) -> None:
    app = make_app(
        tmp_path, f"sqlite:///{tmp_path / 'm.db'}", FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    )
    try:
        put_on_meeting(app, fictional_referrals(count), MEETING)
        statements: list[str] = []
        event.listen(app.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        with app.db.session() as session:
            assert len(cases_of_meeting(session, app.vault, MEETING)) == count
        assert len(statements) <= 2
    finally:
        app.close()


def test_a_case_without_its_referral_version_stops_the_agenda_instead_of_dropping_off(
    tmp_path: Path, database_url: str
) -> None:
    """The agenda reads every case in one query; a case whose current version is missing
    (damaged data) must be said, not left off the SPRG's agenda without a word."""
    app = make_app(tmp_path, database_url, FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC)))
    try:
        put_on_meeting(app, fictional_referrals(2), MEETING)
        with app.db.session() as session:
            case = session.scalars(select(Case).where(Case.ref == "COC-2026-0001")).one()
            case.current_version += 1  # points at a version that does not exist
            session.flush()
            with pytest.raises(NoResultFound, match="COC-2026-0001"):
                cases_of_meeting(session, app.vault, MEETING)
            session.rollback()
    finally:
        app.close()
