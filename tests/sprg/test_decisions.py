"""SPRG decisions by command and by e-mail, the referrer's notice, the reminder, --due."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from helpers.bot import eml, make_env
from helpers.pipeline import handled, outbox_messages
from helpers.privacy import scan
from helpers.sprg import DEC, FIRST, cases, deliver_and_poll, on_day, run, sprg_app
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import queue as case_queue
from mailbot.cases import views
from mailbot.cli import main as cli
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.store.models import AuditEntry, Decision

FORMS = Path(__file__).resolve().parents[1] / "data" / "forms"
TEAM_SENDER = "sprg-support@cscp-partners.example.org"
EXPECTED_06 = json.loads((FORMS / "coc-06-sprg-outcome.expected.json").read_text())


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 10, 9, 15, tzinfo=UTC))


@pytest.fixture
def meeting(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = sprg_app(tmp_path, clock)
    deliver_and_poll(app, *FIRST)
    yield app
    app.close()


def decision_rows(app: App) -> list[Decision]:
    with app.db.session() as session:
        return list(session.scalars(select(Decision).order_by(Decision.case_id, Decision.seq)))


def show(app: App, ref: str) -> dict:
    with app.db.session() as session:
        return views.show(session, app.vault, ref, from_address=app.settings.mail_from).as_json()


OUTCOME_ARGS = [
    "--single",
    "N",
    "--single-grounds",
    "Learning spans several agencies.",
    "--multi",
    "y",
    "--multi-agencies",
    "Health, Police, Children's Social Care",
    "--multi-grounds",
    "Each agency held part of the picture.",
    "--methodology",
    "Rapid learning review with a practitioner session.",
    "--final-report-date",
    "2027-03-18",
    "--other-actions",
    "School to review attendance follow-up - DSL, 31/01/2027",
    "--chair",
    "Dr Review Chair",
]


def test_outcome_command_records_the_form_section(meeting: App, tmp_path: Path, clock: FixedClock) -> None:
    on_day(clock, DEC)  # the evening of the meeting
    assert run(meeting, "outcome", "COC-2026-0001", *OUTCOME_ARGS) == 0
    item = show(meeting, "COC-2026-0001")
    assert item["status"] == "decided"
    assert item["referral"]["outcome"] == {
        "single_agency": {"decision": "N", "agencies": None, "grounds": "Learning spans several agencies."},
        "multi_agency": {
            "decision": "Y",
            "agencies": "Health, Police, Children's Social Care",
            "grounds": "Each agency held part of the picture.",
        },
        "methodology": "Rapid learning review with a practitioner session.",
        "final_report_date": "2027-03-18",
        "other_actions": "School to review attendance follow-up - DSL, 31/01/2027",
    }
    # The meeting date defaults to the meeting the case was scheduled to.
    assert item["referral"]["sprg"] == {"meeting_date": "2026-12-17", "chair": "Dr Review Chair"}
    assert item["referral"]["child"]["full_name"] == "Amelia Rose Exampleby"  # kept
    (row,) = decision_rows(meeting)
    assert (row.source, row.final_report_date, row.meeting_date) == (
        "command",
        date(2027, 3, 18),
        date(2026, 12, 17),
    )
    with meeting.db.session() as session:
        stored = meeting.vault.open_json(session, row, "outcome_enc", key_id=row.key_id)
        audit = [a.action for a in session.scalars(select(AuditEntry))]
    assert stored["outcome"] == item["referral"]["outcome"]
    assert "decision.recorded" in audit
    # Encrypted at rest: the grounds are nowhere in the database files in clear.
    meeting.close()
    for blob in [p.read_bytes() for p in (tmp_path / "var").glob("mailbot.db*")]:
        assert b"Each agency held part of the picture" not in blob
        assert b"Dr Review Chair" not in blob


def test_referrer_is_told_by_reference_only(meeting: App, clock: FixedClock) -> None:
    on_day(clock, DEC)
    run(meeting, "outcome", "COC-2026-0001", *OUTCOME_ARGS)
    notices = [m for m in outbox_messages(meeting) if "SPRG decision" in str(m["Subject"])]
    (notice,) = notices
    assert str(notice["Subject"]) == "[COC-2026-0001] SPRG decision"
    assert str(notice["To"]) == "p.testington@exampleton-primary.example.org"
    assert scan(notice.as_bytes()) == []
    text = notice.get_body(("plain",)).get_content()
    assert "Multi-agency Learning Inquiry: Yes" in text
    assert "Each agency held part" not in text and "Health, Police" not in text
    # Amending the decision does not tell the referrer again.
    assert run(meeting, "outcome", "COC-2026-0001", "--final-report-date", "2027-04-15") == 0
    assert len([m for m in outbox_messages(meeting) if "SPRG decision" in str(m["Subject"])]) == 1
    item = show(meeting, "COC-2026-0001")
    assert item["referral"]["outcome"]["final_report_date"] == "2027-04-15"
    assert item["referral"]["outcome"]["multi_agency"]["decision"] == "Y"  # kept


# -- by e-mail --------------------------------------------------------------------------
def resent(name: str, *, message_id: str, subject: str | None = None) -> bytes:
    raw = eml(name)
    raw = re.sub(rb"(?mi)^Message-ID:.*$", f"Message-ID: <{message_id}>".encode(), raw, count=1)
    if subject is not None:
        raw = re.sub(rb"(?mi)^Subject:.*$", f"Subject: {subject}".encode(), raw, count=1)
    return raw


def two_apps(tmp_path: Path, clock: FixedClock) -> tuple[App, App]:
    """The same store, first without, then with the fixture's sender as a team sender."""
    outside = sprg_app(tmp_path, clock)
    outside.mailbox.append(eml("mail-06-sprg-outcome"))
    Poller(outside).cycle()
    outside.close()
    team = sprg_app(tmp_path, clock, MAILBOT_TEAM_SENDERS=f"cscp-team@example.org,{TEAM_SENDER}")
    return outside, team


def test_outcome_from_an_outside_sender_is_ignored(tmp_path: Path, clock: FixedClock) -> None:
    outside, team = two_apps(tmp_path, clock)
    (item,) = handled(team).values()
    assert item["action"] == "accept"
    case = cases(team)["COC-2026-0001"]
    assert case.status != "decided" and decision_rows(team) == []
    team.close()


@pytest.mark.parametrize("subject", [None, "[COC-2026-0001] SPRG outcome recorded"])
def test_outcome_emailed_by_the_team_is_recorded(
    tmp_path: Path, clock: FixedClock, subject: str | None
) -> None:
    _outside, team = two_apps(tmp_path, clock)
    clock.advance(days=40)
    team.mailbox.append(resent("mail-06-sprg-outcome", message_id="outcome-2@example.org", subject=subject))
    Poller(team).cycle()
    item = [m for m in handled(team).values() if m["message_id"] == "<outcome-2@example.org>"]
    assert item[0]["action"] == "merge_followup" and item[0]["case_refs"] == ["COC-2026-0001"]
    assert len(cases(team)) == 1  # no new case
    shown = show(team, "COC-2026-0001")
    assert shown["status"] == "decided"
    assert shown["referral"]["outcome"] == EXPECTED_06["outcome"]
    assert shown["referral"]["sprg"] == EXPECTED_06["sprg"]
    (row,) = decision_rows(team)
    assert (row.source, row.final_report_date) == ("email", date(2027, 3, 18))
    sent = outbox_messages(team)
    confirm = [m for m in sent if str(m["Subject"]) == "[COC-2026-0001] SPRG decision recorded"]
    assert [str(m["To"]) for m in confirm] == [TEAM_SENDER]
    notice = [m for m in sent if str(m["Subject"]) == "[COC-2026-0001] SPRG decision"]
    # The notice goes where the case's replies went (its first sender), never to an
    # address merely typed on a form.
    assert [str(m["To"]) for m in notice] == ["sprg-support@cscp-partners.example.org"]
    for message in sent:
        assert scan(message.as_bytes()) == [], message["Subject"]
    team.close()


def test_team_outcome_tagged_for_another_child_is_not_recorded(tmp_path: Path, clock: FixedClock) -> None:
    app = sprg_app(tmp_path, clock, MAILBOT_TEAM_SENDERS=TEAM_SENDER)
    deliver_and_poll(app, "mail-01-referral-complete")  # COC-2026-0001 is Amelia
    app.mailbox.append(
        resent("mail-06-sprg-outcome", message_id="wrong@example.org", subject="[COC-2026-0001] SPRG outcome")
    )
    Poller(app).cycle()
    assert cases(app)["COC-2026-0001"].status == "scheduled"
    assert decision_rows(app) == []
    app.close()


# -- follow-through ------------------------------------------------------------------------
def reminders(app: App) -> list:
    return [m for m in outbox_messages(app) if "Final report due" in str(m["Subject"])]


def test_final_report_reminder_goes_once(meeting: App, clock: FixedClock) -> None:
    on_day(clock, DEC)
    run(meeting, "outcome", "COC-2026-0001", *OUTCOME_ARGS)  # final report 18/03/2027
    on_day(clock, date(2027, 3, 3), 9)  # fifteen days before, the window is fourteen
    Poller(meeting).cycle()
    assert reminders(meeting) == []
    clock.advance(days=1)  # 4 March 2027
    Poller(meeting).cycle()
    Poller(meeting).cycle()
    clock.advance(days=3)
    Poller(meeting).cycle()
    (reminder,) = reminders(meeting)
    assert str(reminder["To"]) == "cscp-team@example.org"
    assert str(reminder["Subject"]) == "[COC-2026-0001] Final report due at the SPRG on 18/03/2027"
    assert scan(reminder.as_bytes()) == []
    # Amending something else keeps the reminder sent; a new date is reminded afresh.
    run(meeting, "outcome", "COC-2026-0001", "--other-actions", "none")
    Poller(meeting).cycle()
    assert len(reminders(meeting)) == 1
    run(meeting, "outcome", "COC-2026-0001", "--final-report-date", "2027-03-20")
    Poller(meeting).cycle()
    assert len(reminders(meeting)) == 2


def test_cases_due_lists_reports_due_or_overdue(meeting: App, clock: FixedClock) -> None:
    on_day(clock, DEC)
    run(meeting, "outcome", "COC-2026-0001", *OUTCOME_ARGS)  # 18/03/2027
    run(meeting, "outcome", "COC-2026-0002", "--multi", "Y", "--final-report-date", "2027-01-05")
    run(meeting, "outcome", "COC-2026-0003", "--single", "N", "--multi", "N")  # no report
    on_day(clock, date(2027, 3, 3), 9)
    with meeting.db.session() as session:
        due = [
            i.as_json()
            for i in case_queue.queue(session, meeting.vault, clock.now(), due_by=date(2027, 3, 17))
        ]
    assert [(i["ref"], i["final_report"]) for i in due] == [("COC-2026-0002", "overdue")]
    with meeting.db.session() as session:
        due = [
            i.as_json()
            for i in case_queue.queue(session, meeting.vault, clock.now(), due_by=date(2027, 3, 18))
        ]
    assert [(i["ref"], i["final_report_date"]) for i in due] == [
        ("COC-2026-0002", "2027-01-05"),
        ("COC-2026-0001", "2027-03-18"),
    ]


def test_cases_due_from_the_command_line(
    meeting: App,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Dates before the machine's own clock, so the command (system clock) sees them late.
    on_day(clock, DEC)
    run(meeting, "outcome", "COC-2026-0002", "--multi", "Y", "--final-report-date", "2026-11-01")
    run(meeting, "outcome", "COC-2026-0003", "--multi", "Y", "--final-report-date", "2099-01-01")
    capsys.readouterr()
    for key, value in make_env(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        assert cli.main(["cases", "--due", "--json"]) == 0
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    items = json.loads(capsys.readouterr().out)
    assert [(i["ref"], i["status"], i["final_report"]) for i in items] == [
        ("COC-2026-0002", "decided", "overdue")
    ]
