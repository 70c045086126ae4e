"""Subject access: every case and message about a person, as one marked-up .docx."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from docx import Document
from helpers.bot import eml
from sqlalchemy import select

from mailbot.app import App
from mailbot.intake.poller import Poller
from mailbot.records.sar import Subject, add_month, search
from mailbot.records.sar_docx import OTHER, write_pack
from mailbot.store.models import InboundMessage, MessageCase


def _text(path: Path) -> str:
    return "\n".join(p.text for p in Document(str(path)).paragraphs)


def _chat(text: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "colleague@partner.example.org"
    msg["To"] = "cscp@example.org"
    msg["Subject"] = "Team lunch on Friday"
    msg["Date"] = "Mon, 12 Oct 2026 08:00:00 +0100"
    msg["Message-ID"] = "<lunch-1@partner.example.org>"
    msg.set_content(text)
    return msg.as_bytes()


@pytest.fixture
def filled(app: App) -> App:
    for raw in (
        eml("mail-01-referral-complete"),
        eml("mail-04-handtyped-dates"),
        _chat("Hannah Exampleby asked about the parking permit."),
    ):
        app.mailbox.append(raw)
    Poller(app).cycle()
    return app


def test_a_household_member_finds_her_case_with_others_marked(filled: App, tmp_path: Path) -> None:
    subject = Subject("hannah  EXAMPLEBY", date(1988, 4, 12))
    with filled.db.session() as session:
        result = search(session, filled.vault, subject)
        caseless = session.scalars(
            select(InboundMessage).where(~InboundMessage.id.in_(select(MessageCase.message_id)))
        ).all()
    assert len(caseless) == 1  # the lunch message fed no case
    assert [c.ref for c in result.cases] == ["COC-2026-0001"]
    case = result.cases[0]
    assert case.certainty == "match" and case.versions[0].roles == ["household.0"]
    assert case.messages and case.messages[0].attachments
    assert len(result.other_messages) == 1 and "parking" in result.other_messages[0].text
    path = write_pack(
        result,
        subject,
        date(2026, 10, 12),
        add_month(date(2026, 10, 12)),
        filled.clock.now(),
        tmp_path / "sar",
    )
    assert path.stat().st_mode & 0o777 == 0o600
    text = _text(path)
    assert "12/11/2026" in text and "Hannah Exampleby" in text
    assert f"{OTHER}Amelia Rose Exampleby" in text and f"{OTHER}Marcus Testwood" in text
    assert f"{OTHER}Hannah Exampleby" not in text  # her own data is not marked
    assert "Jaylen Mockford" not in text  # the other case is not in her pack


def test_the_child_is_found_whatever_the_word_order(filled: App) -> None:
    with filled.db.session() as session:
        found = search(session, filled.vault, Subject("Exampleby Amelia Rose", date(2015, 3, 3)))
        wrong_dob = search(session, filled.vault, Subject("Amelia Rose Exampleby", date(2015, 3, 4)))
        nobody = search(session, filled.vault, Subject("Nobody Atall", date(2015, 3, 3)))
    assert [c.ref for c in found.cases] == ["COC-2026-0001"]
    assert found.cases[0].versions[0].roles == ["child"]
    assert wrong_dob.cases == [] and nobody.cases == [] and nobody.searched_cases == 2


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2026, 12, 15), date(2027, 1, 15)),
        (date(2028, 1, 30), date(2028, 2, 29)),
        (date(2026, 3, 31), date(2026, 4, 30)),
    ],
)
def test_one_calendar_month(received: date, due: date) -> None:
    assert add_month(received) == due


def test_the_pack_has_the_decision_and_its_action_plan(filled: App, tmp_path: Path) -> None:
    from mailbot.cases import store as case_store
    from mailbot.sprg import actions, decisions

    now = filled.clock.now()
    with filled.db.session() as session:
        case = case_store.case_by_ref(session, "COC-2026-0001")
        decisions.record(
            session,
            filled.vault,
            filled.outbound,
            now,
            case,
            {"outcome": {"single_agency": {"decision": "Y"}}, "sprg": {}},
            actor="test",
            source="command",
        )
        actions.add(
            session,
            filled.vault,
            now,
            case,
            text="Review the school's log",
            agency="Exampleton Primary",
            owner="Head teacher",
            email=None,
            due=date(2027, 1, 8),
            actor="test",
        )
    subject = Subject("Hannah Exampleby", date(1988, 4, 12))
    with filled.db.session() as session:
        result = search(session, filled.vault, subject)
    assert result.cases[0].decisions and result.cases[0].actions[0]["agency"] == "Exampleton Primary"
    text = _text(
        write_pack(result, subject, date(2026, 10, 12), date(2026, 11, 12), filled.clock.now(), tmp_path)
    )
    assert "SPRG decision 1" in text and "Review the school's log" in text
