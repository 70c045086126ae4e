"""The year's picture: figures from a bot with real referrals, decisions, a serious
incident and actions, rendered as a .docx with charts that names no one."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from flask.testing import FlaskClient
from helpers.bot import eml, make_app
from helpers.privacy import personal_values, scan
from helpers.serious import dod_referral
from helpers.sprg import run
from helpers.workspace import sign_in, web_app

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.reports.annual import percentile, year_figures
from mailbot.web import users

REFERRALS = (
    "mail-01-referral-complete",
    "mail-04-handtyped-dates",
    "mail-05-long-text",
    "mail-07-tagged-controls",
)
#: What the serious-incident form (tests/helpers/serious.py) holds about its people.
DOD_VALUES = {
    "Casey Invented",
    "Casey",
    "Invented",
    "3 Fictional Row",
    "Fictional Row",
    "03/03/2015",
    "2015-03-03",
    "Robin Sampleton",
    "robin.sampleton",
}


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = make_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
        clock,
        MAILBOT_SPRG_MEETINGS="2026-11-19",
        MAILBOT_SPRG_MEMBERS="s@example.org",
        MAILBOT_WEB_TOTP="off",
    )
    for name in REFERRALS:  # Monday 12 October 2026: COC-2026-0001 to -0004
        app.mailbox.append(eml(name))
    app.mailbox.append(dod_referral(date(2026, 10, 10)))  # COC-2026-0005, serious
    Poller(app).cycle()
    for days, ref, options in (
        (7, "COC-2026-0001", ("--single", "Y")),
        (7, "COC-2026-0002", ("--multi", "Y", "--single", "Y")),
        (7, "COC-2026-0003", ("--single", "N", "--multi", "N")),
    ):
        clock.advance(days=days)
        assert run(app, "outcome", ref, *options, "--force") == 0  # before the meeting
    # Panel notified on time (due 19 October); the rapid review is still running.
    assert run(app, "clock", "COC-2026-0005", "panel_notified", "16/10/2026") == 0
    for agency, due in (
        ("Example Health Trust", "2026-10-20"),
        ("Example Health Trust", "2026-12-20"),
        ("Police", "2026-12-01"),
    ):
        assert (
            run(
                app,
                "actions",
                "add",
                "COC-2026-0001",
                "--text",
                "Review the pathway",
                "--agency",
                agency,
                "--owner",
                "Safeguarding lead",
                "--due",
                due,
            )
            == 0
        )
    yield app
    app.close()


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts += [" | ".join(c.text for c in row.cells) for row in table.rows]
    return "\n".join(parts)


def test_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([5, 10, 15], 50) == 10
    assert percentile([5, 10, 15, 20], 50) == 12.5
    assert percentile([5, 10, 15], 90) == 15
    assert percentile(list(range(1, 11)), 90) == 9


def test_the_years_figures(bot: App) -> None:
    with bot.db.session() as session:
        f = year_figures(session, bot.vault, 2026, bot.clock.now())
    assert f.total_referrals == 5 and f.by_month[9] == 5
    assert f.decisions == {
        "Single-agency Learning Inquiry": 1,
        "Multi-agency Learning Inquiry": 1,
        "No Learning Inquiry": 1,
    }
    assert sorted(f.to_decision) == [5, 10, 15]  # working days: 19, 26 October, 2 November
    assert (f.median_days, f.p90_days) == (10, 15)
    assert f.clocks == {
        "Panel notification": {"met": 1, "missed": 0, "running": 0},
        "Rapid review": {"met": 0, "missed": 0, "running": 1},
    }
    assert f.actions == {
        "Example Health Trust": {"open": 1, "overdue": 1, "done": 0, "carried forward": 0},
        "Police": {"open": 1, "overdue": 0, "done": 0, "carried forward": 0},
    }
    assert f.themes and all(n >= 1 for _t, n in f.themes)
    with bot.db.session() as session:
        assert year_figures(session, bot.vault, 2025, bot.clock.now()).total_referrals == 0


def test_the_report_is_a_docx_with_charts_and_no_personal_data(bot: App, tmp_path: Path) -> None:
    out = tmp_path / "annual.docx"
    assert run(bot, "report", "--year", "2026", "--out", str(out)) == 0
    data = out.read_bytes()
    assert out.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pictures = [n for n in archive.namelist() if n.startswith("word/media/")]
        xml = b"".join(archive.read(n) for n in archive.namelist() if n.endswith(".xml"))
    assert len(pictures) == 4  # referrals by month, decisions, themes, actions
    text = docx_text(data)
    assert "5 referrals were received in 2026" in text
    assert "median 10 working days, 90th percentile 15 working days" in text
    assert "Multi-agency Learning Inquiry | 1" in text
    assert "Panel notification | 1 | 0 | 0" in text
    assert "Police | 1 | 0 | 0 | 0 | 1" in text
    assert scan(xml, personal_values() | DOD_VALUES) == []
    assert scan(text.encode(), personal_values() | DOD_VALUES) == []


def test_the_workspace_page_and_download(bot: App) -> None:
    with bot.db.session() as session:
        users.add_user(session, "tess.team", "team", "correct horse battery", bot.clock.now())
    client: FlaskClient = web_app(bot).test_client()
    sign_in(client, "tess.team")
    page = client.get("/report?year=2026").get_data(as_text=True)
    assert "Referrals received: 5" in page and "Multi-agency Learning Inquiry" in page
    assert scan(page.encode(), personal_values() | DOD_VALUES) == []
    download = client.get("/report/2026.docx")
    assert download.status_code == 200 and download.data[:2] == b"PK"
    assert "5 referrals were received in 2026" in docx_text(download.data)
