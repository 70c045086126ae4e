"""Action plans: added to an SPRG decision, listed, done or carried forward, reminded to
their owners on the right working days, overdue in the SPRG digest, and holding the case
open until each is settled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.bot import eml, make_app
from helpers.pipeline import outbox_messages
from helpers.privacy import scan
from helpers.sprg import run
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import store as case_store
from mailbot.cases.editing import close_case
from mailbot.clock import FixedClock
from mailbot.errors import UsageError
from mailbot.intake.poller import Poller
from mailbot.jobs.morning import morning_jobs
from mailbot.store.models import ActionItem

#: Monday 14 December 2026, 09:00 in London.
START = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
TEXT = "Audit the discharge checklist used by the ward"
OWNER = "owner@health.example.org"


@pytest.fixture
def bot(tmp_path: Path, database_url: str) -> Iterator[App]:
    app = make_app(
        tmp_path,
        database_url,
        FixedClock(START),
        MAILBOT_SPRG_MEETINGS="2027-01-21",
        MAILBOT_SPRG_MEMBERS="sprg1@example.org",
        MAILBOT_ACTION_REMINDER_DAYS="5",
    )
    app.mailbox.append(eml("mail-01-referral-complete"))  # COC-2026-0001
    app.mailbox.append(eml("mail-04-handtyped-dates"))  # COC-2026-0002
    Poller(app).cycle()
    # Decided before its meeting (21/01/2027): forced, as this is about the actions.
    assert run(app, "outcome", "COC-2026-0001", "--single", "Y", "--force") == 0
    yield app
    app.close()


def listed(app: App, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict]:
    capsys.readouterr()
    assert run(app, "actions", "list", "--json", *extra) == 0
    return list(json.loads(capsys.readouterr().out))


def close(app: App) -> None:
    with app.db.session() as session:
        case = case_store.case_by_ref(session, "COC-2026-0001")
        close_case(session, app.vault, case, app.clock.now(), user="tess.team", reason="Learning complete")


def add(app: App, due: str, *extra: str, agency: str = "Example Health Trust") -> None:
    assert (
        run(
            app,
            "actions",
            "add",
            "COC-2026-0001",
            "--text",
            TEXT,
            "--agency",
            agency,
            "--owner",
            "Named nurse for safeguarding",
            "--due",
            due,
            *extra,
        )
        == 0
    )


def test_add_list_done_and_carry(bot: App, capsys: pytest.CaptureFixture[str]) -> None:
    add(bot, "24/12/2026", "--email", OWNER)
    add(bot, "2027-01-08", agency="Police")
    assert "do not name the child" in capsys.readouterr().err
    items = listed(bot, capsys)
    assert [set(i) >= {"id", "ref", "text", "agency", "owner", "due", "done", "overdue"} for i in items] == [
        True,
        True,
    ]
    first = items[0]
    assert (first["ref"], first["text"], first["agency"], first["due"], first["done"], first["overdue"]) == (
        "COC-2026-0001",
        TEXT,
        "Example Health Trust",
        "2026-12-24",
        None,
        False,
    )
    assert [i["agency"] for i in listed(bot, capsys, "--agency", "police")] == ["Police"]
    bot.clock._now = datetime(2026, 12, 29, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    assert [i["due"] for i in listed(bot, capsys, "--overdue")] == ["2026-12-24"]
    with pytest.raises(UsageError, match="open action"):
        close(bot)
    assert run(bot, "actions", "done", first["id"][:8], "--evidence", "Audit report") == 0
    assert run(bot, "actions", "carry", items[1]["id"], "--why", "Into the next plan") == 0
    states = {i["agency"]: (i["done"], i["carried_forward"]) for i in listed(bot, capsys)}
    assert states == {"Example Health Trust": ("2026-12-29", None), "Police": (None, "2026-12-29")}
    assert listed(bot, capsys, "--overdue") == []
    close(bot)
    assert listed(bot, capsys)[0]["ref"] == "COC-2026-0001"


def test_an_action_needs_a_decision(bot: App) -> None:
    with pytest.raises(UsageError, match="no SPRG decision"):
        run(
            bot,
            "actions",
            "add",
            "COC-2026-0002",
            "--text",
            "x",
            "--agency",
            "A",
            "--owner",
            "B",
            "--due",
            "2027-01-08",
        )


def test_action_text_is_encrypted_at_rest(bot: App) -> None:
    add(bot, "24/12/2026", "--email", OWNER)
    with bot.db.session() as session:
        row = session.scalars(select(ActionItem)).one()
        for column in ("text_enc", "owner_enc", "owner_email_enc"):
            assert b"discharge" not in getattr(row, column) and b"owner@" not in getattr(row, column)
        assert row.agency == "Example Health Trust"


def test_owners_are_reminded_on_the_right_working_days(bot: App) -> None:
    """Due Thursday 24 December 2026, reminders 5 working days ahead: Thursday 17
    December; overdue from Friday 25, but Christmas Day, the weekend and the substitute
    Boxing Day are not working mornings, so the overdue reminder goes on Tuesday 29."""
    add(bot, "24/12/2026", "--email", OWNER)
    sent_on = {}
    for day in range(15, 32):
        bot.clock._now = datetime(2026, 12, day, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]
        result = morning_jobs(bot)
        if result is not None and result.actions_reminded:
            sent_on[day] = len(result.actions_reminded)
    assert sent_on == {17: 1, 29: 1}
    bot.drainer.drain()
    mails = [m for m in outbox_messages(bot) if str(m["To"]) == OWNER]
    assert [str(m["Subject"]) for m in mails] == [
        "[COC-2026-0001] Action due on 24/12/2026",
        "[COC-2026-0001] Action overdue (due 24/12/2026)",
    ]
    for mail in mails:
        body = mail.get_body(("plain",)).get_content()
        assert TEXT in body and "COC-2026-0001" in body
        assert scan(mail.as_bytes()) == []
        assert mail["Auto-Submitted"] == "auto-generated"


def test_no_email_no_reminder(bot: App) -> None:
    add(bot, "24/12/2026")
    bot.clock._now = datetime(2026, 12, 29, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    result = morning_jobs(bot)
    assert result is not None and result.actions_reminded == []


def test_the_sprg_digest_lists_overdue_actions_by_agency(bot: App) -> None:
    add(bot, "17/12/2026", agency="Police")
    add(bot, "16/12/2026")
    add(bot, "08/01/2027")  # not overdue yet
    bot.clock._now = datetime(2027, 1, 14, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    assert run(bot, "agenda", "--meeting", "2027-01-21", "--send") == 0
    digest = next(m for m in outbox_messages(bot) if str(m["To"]) == "sprg1@example.org")
    text = digest.get_body(("plain",)).get_content()
    section = text.split("Overdue actions, by agency")[1].split("The agenda pack")[0]
    assert section.index("Example Health Trust") < section.index("Police")
    assert "COC-2026-0001, due 16/12/2026: " + TEXT in section
    assert "COC-2026-0001, due 08/01/2027" in section
    assert scan(digest.as_bytes()) == []
