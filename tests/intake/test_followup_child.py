"""Issue 12 part 1: a follow-up carrying a form about another child never changes a case.

Reproduced before the fix: a message From the referrer's address, tagged
``[COC-2026-0001]``, carrying a form about another child became version 2 of the case,
and the real referrer was told the referral was now complete. The From header proves
nothing (and even an authenticated referrer can attach the wrong child's form), so the
form is checked against the case: a different name or date of birth is held for a
person, linked to the case, whoever sent it, and nobody is told anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.bot import eml, make_app
from helpers.forged_mail import opendmarc, postfix_trace, readdressed
from helpers.pipeline import outbox_messages, poll
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import views
from mailbot.clock import FixedClock
from mailbot.intake.release import release
from mailbot.store.models import Case

REFERRER = "p.testington@exampleton-primary.example.org"  # mail-01's, about Amelia
DOMAIN = REFERRER.rpartition("@")[2]
SUBJECT = "RE: [COC-2026-0001] Referral received"


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock)
    app.mailbox.append(eml("mail-01-referral-complete"))
    poll(app)
    app.drainer.drain()
    yield app
    app.close()


def follow_up(sample: str, trace: list[str]) -> bytes:
    return readdressed(eml(sample), trace, sender=f"Priya Testington <{REFERRER}>", subject=SUBJECT)


def version(app: App) -> int:
    with app.db.session() as session:
        return session.scalars(select(Case).where(Case.ref == "COC-2026-0001")).one().current_version


def to_referrer(app: App) -> list[str]:
    return [str(m["Subject"]) for m in outbox_messages(app) if str(m["To"]) == REFERRER]


SENDERS = {
    "authenticated referrer": postfix_trace(opendmarc("pass", DOMAIN)),
    "unauthenticated From": postfix_trace(None),
}


@pytest.mark.parametrize("trace", SENDERS.values(), ids=SENDERS.keys())
def test_a_form_about_another_child_is_held(bot: App, trace: list[str]) -> None:
    before = to_referrer(bot)
    bot.mailbox.append(follow_up("mail-04-handtyped-dates", trace))  # Jaylen, not Amelia
    poll(bot)
    bot.drainer.drain()
    assert version(bot) == 1
    assert to_referrer(bot) == before  # no "now complete", no "updated"
    with bot.db.session() as session:
        [item] = views.quarantine(session, bot.vault)
        shown = views.show(session, bot.vault, "COC-2026-0001", from_address="x@example.org")
    assert item.linked_ref == "COC-2026-0001" and "different child" in item.reason
    assert shown.referral["child"]["full_name"] == "Amelia Rose Exampleby"
    assert sorted(m.kind for m in shown.messages if m.direction == "in") == ["accept", "quarantine"]
    alerts = [m for m in outbox_messages(bot) if str(m["To"]) == "cscp-team@example.org"]
    assert any("different" in m.get_body(("plain",)).get_content() for m in alerts)


def test_a_form_about_the_same_child_is_applied(bot: App) -> None:
    bot.mailbox.append(
        follow_up(
            "mail-08-libreoffice-saved",  # Amelia again
            postfix_trace(opendmarc("pass", DOMAIN)),
        )
    )
    poll(bot)
    assert version(bot) == 2


def test_a_person_who_releases_it_vouches_for_it(bot: App) -> None:
    bot.mailbox.append(follow_up("mail-04-handtyped-dates", postfix_trace(None)))
    poll(bot)
    with bot.db.session() as session:
        [item] = views.quarantine(session, bot.vault)
    assert release(bot, item.id, actor="tess.team") == ["COC-2026-0001"]
    assert version(bot) == 2
