"""The team's queue digest each working morning: counts and references, no personal data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from helpers.bot import eml, make_app
from helpers.privacy import scan
from sqlalchemy import select

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.jobs.morning import morning_jobs
from mailbot.store.models import Outbox

MONDAY_EARLY = datetime(2026, 10, 12, 6, 0, tzinfo=UTC)  # 07:00 in London


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[App]:
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", FixedClock(MONDAY_EARLY))
    for name in (
        "mail-01-referral-complete",
        "mail-02-referral-incomplete",
        "mail-11-no-attachment",
        "mail-15-two-forms",
        "mail-17-dmarc-fail",
    ):
        app.mailbox.append(eml(name))
    Poller(app).cycle()
    yield app
    app.close()


def digests(app: App) -> list[EmailMessage]:
    app.drainer.drain()
    folder = Path(app.settings.outbound_url[len("outbox:") :])
    parser = BytesParser(policy=policy.default)
    out = [parser.parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]
    return [m for m in out if str(m["Subject"]).startswith("CSCP queue")]  # type: ignore[misc]


def test_digest_goes_once_each_working_morning_from_the_hour(bot: App) -> None:
    clock = bot.clock
    assert isinstance(clock, FixedClock)
    assert morning_jobs(bot) is None  # 07:00: before the digest hour
    clock.advance(hours=1)
    result = morning_jobs(bot)
    assert result is not None and result.digest_sent
    assert morning_jobs(bot) is None
    sent = digests(bot)
    assert len(sent) == 1
    assert str(sent[0]["To"]) == "cscp-team@example.org"
    assert str(sent[0]["Subject"]) == "CSCP queue for Monday 12 October 2026"
    clock.advance(days=5)  # Saturday
    assert morning_jobs(bot) is None
    clock.advance(days=2)  # Monday again
    assert morning_jobs(bot) is not None
    assert len(digests(bot)) == 2


def test_digest_names_cases_by_reference_only(bot: App) -> None:
    bot.clock.advance(hours=2)  # type: ignore[attr-defined]
    morning_jobs(bot)
    (digest,) = digests(bot)
    assert scan(digest.as_bytes()) == []
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Open cases: 5" in text
    assert "Messages held in quarantine: 1" in text
    assert "COC-2026-0002 (0 working days)" in text  # waiting for its referrer
    for ref in ("COC-2026-0001", "COC-2026-0003", "COC-2026-0005"):
        assert ref in text
    with bot.db.session() as session:
        row = session.scalars(select(Outbox).where(Outbox.kind == "digest")).one()
        assert row.case_refs == []  # not shown as a message on every case page


def test_no_team_address_no_digest(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
        FixedClock(datetime(2026, 10, 12, 9, 0, tzinfo=UTC)),
    )
    app.settings = replace(app.settings, team_address=None)
    try:
        result = morning_jobs(app)
        assert result is not None and not result.digest_sent
    finally:
        app.close()


def test_every_mail_template_renders(bot: App) -> None:
    from mailbot.outbound.compose import render

    chaser = render(
        bot.env,
        "chaser",
        "s",
        ref="COC-2026-0001",
        received="12 October 2026",
        missing=["Your Role"],
        queries=["the date"],
        whole_form=False,
        urgent_contact="Call 999.",
    )
    assert "Your Role" in chaser.text and "Your Role" in chaser.html
