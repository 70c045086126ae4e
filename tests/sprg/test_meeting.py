"""An SPRG meeting built from the fixture e-mails: scheduling, the pack, the digest."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import docx
import msoffcrypto
import pytest
from docx.oxml.ns import qn
from helpers.bot import make_app, make_env
from helpers.pipeline import outbox_messages
from helpers.privacy import scan
from helpers.sprg import (
    CHILDREN,
    DEC,
    FIRST,
    JAN,
    MEMBERS,
    OUTCOME_LABELS,
    SECTIONS,
    SPRG_ENV,
    cases,
    deliver_and_poll,
    run,
    sprg_app,
)
from sqlalchemy import select

from mailbot.app import App
from mailbot.cli import main as cli
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.sprg.pack_format import MARKING
from mailbot.store.models import Meeting


@pytest.fixture
def clock() -> FixedClock:
    """After every fixture's date of referral (a referral dated tomorrow is queried)."""
    return FixedClock(datetime(2026, 11, 10, 9, 15, tzinfo=UTC))


@pytest.fixture
def meeting(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = sprg_app(tmp_path, clock)
    deliver_and_poll(app, *FIRST)
    yield app
    app.close()


def test_ready_cases_are_scheduled_by_the_cutoff(meeting: App, clock: FixedClock) -> None:
    found = cases(meeting)
    assert sorted(found) == ["COC-2026-0001", "COC-2026-0002", "COC-2026-0003", "COC-2026-0004"]
    # Ready on 10 November: 19 November is inside the ten-day cut-off, so 17 December.
    assert {(c.status, c.meeting_date) for c in found.values()} == {("scheduled", DEC)}
    clock.advance(days=27)  # 7 December: exactly ten days before 17 December
    deliver_and_poll(meeting, "mail-18-non-ascii-headers")
    assert cases(meeting)["COC-2026-0005"].meeting_date == DEC
    clock.advance(days=1)  # 8 December: too late for 17 December
    deliver_and_poll(meeting, "mail-09-pdf-form")
    assert cases(meeting)["COC-2026-0006"].meeting_date == JAN


def test_incomplete_case_is_not_scheduled(meeting: App) -> None:
    deliver_and_poll(meeting, "mail-02-referral-incomplete")
    case = cases(meeting)["COC-2026-0005"]
    assert (case.status, case.meeting_date) == ("awaiting_information", None)


def test_team_moves_and_holds_cases(meeting: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(meeting, "schedule", "COC-2026-0002", "--meeting", "2027-01-21") == 0
    assert run(meeting, "schedule", "coc-2026-0003", "--hold") == 0
    Poller(meeting).cycle()  # the poll must not put a held case back on an agenda
    found = cases(meeting)
    assert (found["COC-2026-0002"].status, found["COC-2026-0002"].meeting_date) == ("scheduled", JAN)
    assert (
        found["COC-2026-0003"].status,
        found["COC-2026-0003"].meeting_date,
        found["COC-2026-0003"].held,
    ) == ("held", None, True)
    assert run(meeting, "schedule", "COC-2026-0003", "--meeting", "2026-12-17") == 0
    assert cases(meeting)["COC-2026-0003"].status == "scheduled"
    out = capsys.readouterr().out
    assert "COC-2026-0002 scheduled to the SPRG meeting on Thursday 21 January 2027" in out
    assert "COC-2026-0003 held back" in out


@pytest.fixture
def cli_env(meeting: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """`mailbot` itself (system clock), on the meeting's store."""
    env = make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", **SPRG_ENV)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()  # main() points the log at this test's captured stderr
    handlers, level = root.handlers[:], root.level
    yield meeting
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["schedule", "COC-2026-0001", "--meeting", "2026-12-18"], "not an SPRG meeting date"),
        (["schedule", "COC-2026-0001", "--meeting", "12/17/2026"], "--meeting"),  # month 17
        (["schedule", "COC-2026-0001"], "--meeting"),
        (["agenda", "--meeting", "2026-12-18"], "not an SPRG meeting date"),
        (["outcome", "COC-2026-0001", "--single", "maybe"], "Y or N"),
        (["outcome", "COC-2026-0001"], "give the decision"),
        (["outcome", "COC-2026-0001", "--final-report-date", "soon"], "--final-report-date"),
    ],
)
def test_command_errors_exit_2_naming_the_problem(
    cli_env: App, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert named in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["schedule", "COC-2026-0099", "--meeting", "2026-12-17"],
        ["outcome", "COC-2026-0099", "--single", "N"],
        ["show", "COC-2026-0099"],
    ],
)
def test_an_unknown_case_exits_1_everywhere(
    cli_env: App, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "COC-2026-0099" in err and len(err.strip().splitlines()) == 1


def test_command_error_when_no_calendar(tmp_path: Path, clock: FixedClock) -> None:
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock)
    deliver_and_poll(app, "mail-01-referral-complete")
    assert cases(app)["COC-2026-0001"].status == "ready"  # no calendar: nothing scheduled
    from mailbot.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        run(app, "schedule", "COC-2026-0001", "--meeting", "2026-12-17")
    assert info.value.setting == "MAILBOT_SPRG_MEETINGS"
    app.close()


# -- the pack --------------------------------------------------------------------------
def document_text(document: Any) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def test_agenda_pack_has_every_case_and_section_of_its_meeting_only(meeting: App, tmp_path: Path) -> None:
    run(meeting, "schedule", "COC-2026-0004", "--meeting", "2027-01-21")
    out = tmp_path / "pack"
    assert run(meeting, "agenda", "--meeting", "2026-12-17", "--out", str(out)) == 0
    path = out / "agenda.docx"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    document = docx.Document(str(path))
    text = document_text(document)
    for ref, child in zip(["COC-2026-0001", "COC-2026-0002", "COC-2026-0003"], CHILDREN, strict=False):
        assert ref in text and child in text
    assert "COC-2026-0004" not in text and CHILDREN[3] not in text
    # The cover: date, chair, one row per case.
    assert "Thursday 17 December 2026" in text and "Chair of the Review Group" in text
    cover = document.tables[1]
    assert [row.cells[1].text for row in cover.rows] == [
        "Reference",
        "COC-2026-0001",
        "COC-2026-0002",
        "COC-2026-0003",
    ]
    assert [row.cells[2].text for row in cover.rows][1] == "Exampleton Primary School"
    assert cover.rows[1].cells[3].text == "11 years"  # born 03/03/2015, meeting 17/12/2026
    # Each case on its own page, with every section and the outcome table.
    starts = [p for p in document.paragraphs if p.paragraph_format.page_break_before]
    assert [p.text for p in starts] == [f"Case {n}: COC-2026-000{n}" for n in (1, 2, 3)]
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 2"]
    for section in SECTIONS:
        assert headings.count(section) == 3, section
    for label in OUTCOME_LABELS:
        assert text.count(label) == 3, label
    # Printing: the marking in the header, a page number field, rows that do not split,
    # headings kept with what follows.
    section = document.sections[0]
    assert MARKING in section.header.paragraphs[0].text
    fields = [n.text for n in section.footer._element.iter(qn("w:instrText"))]
    assert any("PAGE" in f for f in fields)
    for table in document.tables:
        for row in table.rows:
            assert row._tr.trPr is not None and row._tr.trPr.find(qn("w:cantSplit")) is not None
    assert all(
        p.paragraph_format.keep_with_next or p.style.paragraph_format.keep_with_next
        for p in document.paragraphs
        if p.style.name.startswith("Heading")
    )


def test_agenda_without_cases_still_makes_a_cover(meeting: App, tmp_path: Path) -> None:
    assert run(meeting, "agenda", "--meeting", "2026-11-19", "--out", str(tmp_path / "p")) == 0
    text = document_text(docx.Document(str(tmp_path / "p" / "agenda.docx")))
    assert "No cases are on the agenda" in text and "COC-2026" not in text


# -- the digest ------------------------------------------------------------------------
def digests(app: App) -> list[EmailMessage]:
    return [m for m in outbox_messages(app) if "agenda digest" in str(m["Subject"])]


def test_digest_names_no_one(meeting: App) -> None:
    run(meeting, "schedule", "COC-2026-0004", "--meeting", "2027-01-21")
    assert run(meeting, "agenda", "--meeting", "2026-12-17", "--send") == 0
    sent = digests(meeting)
    assert sorted(str(m["To"]) for m in sent) == sorted(MEMBERS)  # one message per member
    for message in sent:
        assert scan(message.as_bytes()) == []
        assert "COC-2026-0004" not in message.as_string()
        subject = str(message["Subject"])
        assert subject.startswith("SPRG meeting 17/12/2026") and subject.endswith(
            "[COC-2026-0001] [COC-2026-0002] [COC-2026-0003]"
        )
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        for body in (text, html):
            assert "17 December 2026" in body and "3 cases are on the agenda" in body
            assert "Exampleton Primary School" in body and "Testbridge Youth Justice" in body
            assert "11-15" in body and "16-17" in body  # age bands, not ages or birthdays
            assert "County lines" in body
        assert not list(message.iter_attachments())
        assert "password" not in text.lower() or "not in this e-mail" in text


def test_digest_goes_automatically_once_per_meeting(meeting: App, clock: FixedClock) -> None:
    clock.advance(days=29)  # 9 December: eight days before 17 December (window is 7)
    Poller(meeting).cycle()
    assert digests(meeting) == []
    clock.advance(days=1)  # 10 December
    Poller(meeting).cycle()
    assert len(digests(meeting)) == len(MEMBERS)
    clock.advance(hours=3)
    Poller(meeting).cycle()
    clock.advance(days=2)
    Poller(meeting).cycle()
    assert len(digests(meeting)) == len(MEMBERS)
    with meeting.db.session() as session:
        row = session.scalars(select(Meeting).where(Meeting.meeting_date == DEC)).one()
        assert row.digest_sent_at == datetime(2026, 12, 10, 9, 15, tzinfo=UTC)
        assert row.digest_cases == 4


PASSWORD = "correct horse battery staple 7"


def test_attached_pack_is_encrypted_and_opens_only_with_the_password(
    tmp_path: Path, clock: FixedClock
) -> None:
    app = sprg_app(tmp_path, clock, MAILBOT_SPRG_ATTACH_PACK="on", MAILBOT_SPRG_PACK_PASSWORD=PASSWORD)
    deliver_and_poll(app, *FIRST)
    assert run(app, "agenda", "--meeting", "2026-12-17", "--send") == 0
    sent = digests(app)
    assert len(sent) == len(MEMBERS)
    for message in sent:
        raw = message.as_bytes()
        assert PASSWORD.encode() not in raw
        # The readable parts; the attachment's ciphertext is scanned below for long values
        # only (in base64 of random bytes a three-letter name turns up by chance).
        readable = "\n".join(
            [
                str(message["Subject"]),
                str(message["To"]),
                message.get_body(("plain",)).get_content(),
                message.get_body(("html",)).get_content(),
            ]
        )
        assert scan(readable.encode()) == []
        assert PASSWORD not in readable
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_filename() == "SPRG-agenda-2026-12-17.docx"
        blob = attachment.get_content()
        assert scan(blob, min_len=6) == []
        office = msoffcrypto.OfficeFile(io.BytesIO(blob))
        assert office.is_encrypted()
        with pytest.raises(Exception):  # noqa: B017 - python-docx cannot read it at all
            docx.Document(io.BytesIO(blob))
        wrong = msoffcrypto.OfficeFile(io.BytesIO(blob))
        with pytest.raises(msoffcrypto.exceptions.InvalidKeyError):
            wrong.load_key(password="not the password", verify_password=True)
        office.load_key(password=PASSWORD, verify_password=True)
        plain = io.BytesIO()
        office.decrypt(plain, verify_integrity=True)
        text = document_text(docx.Document(plain))
        assert all(child in text for child in CHILDREN)
        assert re.search(r"Case 4: COC-2026-0004", text)
    app.close()
