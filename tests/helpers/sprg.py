"""A bot with an SPRG calendar and members, its sample cases, and commands on its clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from helpers.bot import eml, make_app
from mailbot.app import App
from mailbot.cli import main as cli
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.store.models import Case

MEETINGS = "2026-11-19,2026-12-17,2027-01-21"
NEAR, DEC, JAN = date(2026, 11, 19), date(2026, 12, 17), date(2027, 1, 21)
MEMBERS = ("member.one@health.example.org", "member.two@police.example.org")
SPRG_ENV = {
    "MAILBOT_SPRG_MEETINGS": MEETINGS,
    "MAILBOT_SPRG_MEMBERS": ",".join(MEMBERS),
    "MAILBOT_SPRG_CHAIR": "Chair of the Review Group",
}
#: Four complete referrals, ready on 10 November 2026 (the fixed clock).
FIRST = [
    "mail-01-referral-complete",
    "mail-04-handtyped-dates",
    "mail-05-long-text",
    "mail-07-tagged-controls",
]
#: The children of those referrals, in the order of their references.
CHILDREN = ["Amelia Rose Exampleby", "Jaylen Mockford", "Zara Imaginary-Khan", "Kofi Sampson-Testa"]
SECTIONS = [
    "Referrer",
    "Child or young person",
    "Family, significant others and household",
    "Incident details and history",
    "Anticipated learning and questions suggested",
    "Themes",
    "SPRG outcome (to be completed at the meeting)",
]
OUTCOME_LABELS = [
    "Decision made to conduct a single agency Learning Inquiry",
    "Decision made to conduct a multi-agency Learning Inquiry",
    "Methodology (including whether parents/child involved)",
    "Date for final report at SPRG",
    "Any other actions (with name/date)",
    "Date of SPRG Meeting:",
    "Chair of SPRG Meeting:",
]


def sprg_app(tmp_path: Path, clock: FixedClock, **extra: str) -> App:
    return make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock, **{**SPRG_ENV, **extra})


def deliver_and_poll(app: App, *names: str) -> None:
    for name in names:
        app.mailbox.append(eml(name))
    Poller(app).cycle()


def cases(app: App) -> dict[str, Case]:
    with app.db.session() as session:
        return {c.ref: c for c in session.scalars(select(Case).order_by(Case.ref))}


def on_day(clock: FixedClock, day: date, hour: int = 17) -> None:
    """Move the clock forward to ``hour`` o'clock (UTC) on ``day``: e.g. the evening of a
    meeting, when its decision may be recorded."""
    target = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    assert target >= clock.now(), "the clock only moves forward"
    clock.advance(seconds=(target - clock.now()).total_seconds())


def run(app: App, *argv: str) -> int:
    """A command through the real parser, on this app (and so on its fixed clock)."""
    args = cli.build_parser().parse_args(list(argv))
    return int(args.func(args, app))
