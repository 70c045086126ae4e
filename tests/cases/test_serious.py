"""Serious incidents through the whole bot: flagged on arrival, the team alerted at once,
two statutory clocks in working days, leading the digest and the queue, the next meeting
whatever the cut-off, and an extraordinary meeting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from helpers.bot import eml, make_app
from helpers.pipeline import outbox_messages
from helpers.serious import dod_referral
from helpers.sprg import run
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import queue as case_queue
from mailbot.cases import views
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.jobs.morning import morning_jobs
from mailbot.store.models import AuditEntry, Case, Outbox

#: Wednesday 23 December 2026, 10:00 in London: Christmas, Boxing Day's substitute and
#: New Year's Day all fall inside the Panel notification's five working days.
ARRIVES = datetime(2026, 12, 23, 10, 0, tzinfo=UTC)
PANEL_DUE = date(2027, 1, 4)
REVIEW_DUE = date(2027, 1, 25)
SETTINGS = {
    "MAILBOT_SPRG_MEETINGS": "2026-12-29,2027-01-21,2027-02-18",
    "MAILBOT_SPRG_MEMBERS": "sprg1@example.org",
}


@pytest.fixture
def bot(tmp_path: Path, database_url: str) -> Iterator[App]:
    app = make_app(tmp_path, database_url, FixedClock(ARRIVES), **SETTINGS)
    app.mailbox.append(dod_referral(date(2026, 12, 20)))  # COC-2026-0001: a death
    app.mailbox.append(eml("mail-01-referral-complete"))  # COC-2026-0002: no date of death
    Poller(app).cycle()
    yield app
    app.close()


def clock_of(app: App) -> FixedClock:
    assert isinstance(app.clock, FixedClock)
    return app.clock


def queue_json(app: App) -> dict[str, dict]:
    with app.db.session() as session:
        items = case_queue.queue(session, app.vault, app.clock.now())
    return {i.ref: i.as_json() for i in items}


def show_json(app: App, ref: str) -> dict:
    with app.db.session() as session:
        return views.show(session, app.vault, ref, from_address="cscp@example.org").as_json()


def alerts(app: App) -> list:
    return [
        m
        for m in outbox_messages(app)
        if str(m["Subject"]).endswith("Serious incident: statutory clocks running")
    ]


def test_a_date_of_death_flags_the_case_and_alerts_the_team_at_once(bot: App) -> None:
    (alert,) = alerts(bot)  # sent in the same poll cycle, not at the next digest
    assert str(alert["To"]) == "cscp-team@example.org"
    assert str(alert["Subject"]).startswith("[COC-2026-0001]")
    body = alert.get_body(("plain",)).get_content()
    assert "Panel notification: due 04/01/2027" in body
    assert "Rapid review: due 25/01/2027" in body
    for personal in ("Casey", "Invented", "20/12/2026", "Fictional Row", "03/03/2015"):
        assert personal not in alert.as_string()
    rows = queue_json(bot)
    assert rows["COC-2026-0001"]["serious_incident"] is True
    assert rows["COC-2026-0001"]["clocks"] == [
        {"name": "panel_notification", "due": "2027-01-04", "done": None},
        {"name": "rapid_review", "due": "2027-01-25", "done": None},
    ]
    assert rows["COC-2026-0002"]["serious_incident"] is False
    assert rows["COC-2026-0002"]["clocks"] == []
    shown = show_json(bot, "COC-2026-0001")
    assert shown["serious_incident"] is True and shown["clocks"] == rows["COC-2026-0001"]["clocks"]
    with bot.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.serious_incident")).one()
        assert entry.actor == "mailbot" and entry.detail == "aware 2026-12-23"


def test_it_is_offered_for_the_next_meeting_whatever_the_cut_off(bot: App) -> None:
    with bot.db.session() as session:
        cases = {c.ref: c for c in session.scalars(select(Case))}
        # 29 December is six days away, inside the 10-day cut-off: only the serious
        # incident goes on it.
        assert cases["COC-2026-0001"].meeting_date == date(2026, 12, 29)
        assert cases["COC-2026-0002"].meeting_date == date(2027, 1, 21)


def test_recorded_dates_move_and_complete_the_clocks(bot: App) -> None:
    clock = clock_of(bot)
    clock.advance(days=7)  # Wednesday 30 December
    assert run(bot, "clock", "COC-2026-0001", "aware", "22/12/2026") == 0
    clocks = queue_json(bot)["COC-2026-0001"]["clocks"]
    assert clocks[0] == {"name": "panel_notification", "due": "2026-12-31", "done": None}
    assert run(bot, "clock", "COC-2026-0001", "panel_notified", "2026-12-30") == 0
    assert run(bot, "clock", "COC-2026-0001", "rapid_review_sent", "30/12/2026") == 0
    clocks = queue_json(bot)["COC-2026-0001"]["clocks"]
    # 15 working days from Wednesday 30 December 2026: 31 Dec, then 4-8, 11-15, 18-21 Jan.
    assert clocks == [
        {"name": "panel_notification", "due": "2026-12-31", "done": "2026-12-30"},
        {"name": "rapid_review", "due": "2027-01-21", "done": "2026-12-30"},
    ]
    with pytest.raises(Exception, match="in the future"):
        run(bot, "clock", "COC-2026-0001", "panel_notified", "31/12/2026")
    with pytest.raises(Exception, match="not flagged"):
        run(bot, "clock", "COC-2026-0002", "panel_notified", "30/12/2026")


def test_urgent_clocks_lead_the_morning_digest_and_the_queue(bot: App) -> None:
    clock = clock_of(bot)
    clock._now = datetime(2026, 12, 31, 9, 0, tzinfo=UTC)  # Thursday; Friday is a holiday
    result = morning_jobs(bot)
    assert result is not None and result.digest_sent
    bot.drainer.drain()
    digest = next(m for m in outbox_messages(bot) if str(m["Subject"]).startswith("CSCP queue"))
    text = digest.get_body(("plain",)).get_content()
    lead = text.split("Open cases:")[0]
    assert "COC-2026-0001: Panel notification due 04/01/2027 (due by the next working day)" in lead
    assert list(queue_json(bot))[0] == "COC-2026-0001"
    clock._now = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)  # New Year's Day: no morning jobs
    assert morning_jobs(bot) is None
    clock._now = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    with bot.db.session() as session:
        items = case_queue.annotated_queue(session, bot.vault, bot.settings, bot.clock.now())
    first = items[0]
    assert first.ref == "COC-2026-0001" and first.urgent_clocks[0].state == "overdue"
    assert case_queue.filtered(items, sort="newest")[0].ref == "COC-2026-0001"


def test_the_team_flags_and_clears_by_hand_audited(bot: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(bot, "serious", "COC-2026-0002", "on", "--why", "Serious harm: hospital") == 0
    out = capsys.readouterr().out
    assert "COC-2026-0002 flagged as a serious incident; the team was alerted" in out
    assert "Panel notification: due 04/01/2027" in out
    assert len(alerts(bot)) == 2
    assert run(bot, "serious", "COC-2026-0001", "off", "--why", "Not a serious incident") == 0
    assert queue_json(bot)["COC-2026-0001"]["serious_incident"] is False
    with bot.db.session() as session:
        actions = [
            (e.actor[:3], e.action)
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.action.like("case.serious%")).order_by(AuditEntry.id)
            )
        ]
        case = session.scalars(select(Case).where(Case.ref == "COC-2026-0002")).one()
        assert b"hospital" not in (case.serious_why_enc or b"")
        assert bot.vault.open_text(session, case, "serious_why_enc") == "Serious harm: hospital"
        assert all("hospital" not in (e.detail or "") for e in session.scalars(select(AuditEntry)))
    assert actions == [
        ("mai", "case.serious_incident"),
        ("os:", "case.serious_incident"),
        ("os:", "case.serious_cleared"),
    ]


def test_an_extraordinary_meeting_is_a_meeting(bot: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(bot, "meeting", "add", "24/12/2026", "--case", "COC-2026-0001") == 0
    assert "COC-2026-0001 moved to it" in capsys.readouterr().out
    assert queue_json(bot)["COC-2026-0001"]["meeting_date"] == "2026-12-24"
    assert run(bot, "schedule", "COC-2026-0002", "--meeting", "2026-12-24") == 0
    assert run(bot, "agenda", "--meeting", "2026-12-24", "--send") == 0
    with bot.db.session() as session:
        sent = [
            o
            for o in session.scalars(select(Outbox).where(Outbox.kind == "digest"))
            if "24/12/2026" in o.subject
        ]
        assert len(sent) == 1 and sorted(sent[0].case_refs) == ["COC-2026-0001", "COC-2026-0002"]


def test_the_queue_table_marks_serious_incidents(bot: App) -> None:
    from mailbot.cli.text import queue_table

    with bot.db.session() as session:
        items = case_queue.queue(session, bot.vault, bot.clock.now())
    assert "COC-2026-0001 (serious incident)" in queue_table(items)
    assert items[0].as_json()["clocks"][0]["due"] == "2027-01-04"
