"""Issue 12 part 1: a forged e-mail must not record an SPRG decision.

Reproduced before the fix: a message whose From was the team address, carrying the form
with its outcome section filled in, was recorded as the SPRG decision and the referrer
was told the (fake) decision, with no Authentication-Results at all, or with our own
server's ``dmarc=fail`` on it. Now an emailed decision is recorded only from a team
sender our receiving side authenticated; anything else is held, linked to the case, and
the team confirms it in one step (release), which records it and tells the referrer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.bot import eml, make_app, make_env
from helpers.forged_mail import OTHER_TENANT, TENANT, exchange_trace, opendmarc, postfix_trace, readdressed
from helpers.pipeline import outbox_messages, poll
from helpers.workspace import csrf_of, sign_in, web_app
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import views
from mailbot.cli.main import main
from mailbot.clock import FixedClock
from mailbot.store.models import Case, Decision
from mailbot.web import users

TEAM = "cscp-team@example.org"
#: The referrer of the case (mail-06 as first sent, from a partner's support address).
REFERRER = "sprg-support@cscp-partners.example.org"
SUBJECT = "[COC-2026-0001] SPRG outcome"


def make_bot(tmp_path: Path, clock: FixedClock, **extra: str) -> App:
    """A case about Leo (mail-06 from its referrer, with the referrer's own copy of the
    outcome section), then the clock moved past the meeting on the form (19/11/2026)."""
    app = make_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
        clock,
        MAILBOT_SPRG_MEETINGS="2026-11-19,2026-12-17",
        **extra,
    )
    app.mailbox.append(eml("mail-06-sprg-outcome"))
    poll(app)
    clock.advance(days=40)
    return app


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 10, 9, 15, tzinfo=UTC))


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = make_bot(tmp_path, clock)
    yield app
    app.close()


@pytest.fixture
def exo(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = make_bot(
        tmp_path, clock, MAILBOT_SENDER_AUTH="exchange-online", MAILBOT_SENDER_AUTH_TENANT_ID=TENANT
    )
    yield app
    app.close()


def decision_mail(trace: list[str], sender: str = f"CSCP Team <{TEAM}>") -> bytes:
    return readdressed(eml("mail-06-sprg-outcome"), trace, sender=sender, subject=SUBJECT)


def state(app: App) -> tuple[str, int, list[str]]:
    """The case's status, its decisions, and the subjects of mail sent after the case's
    acknowledgement."""
    with app.db.session() as session:
        case = session.scalars(select(Case)).one()
        decisions = len(session.scalars(select(Decision)).all())
    subjects = [
        str(m["Subject"]) for m in outbox_messages(app) if "Referral received" not in str(m["Subject"])
    ]
    return case.status, decisions, subjects


def held(app: App) -> list[views.HeldItem]:
    with app.db.session() as session:
        return views.quarantine(session, app.vault)


def assert_held_for_the_team(app: App) -> views.HeldItem:
    status, decisions, subjects = state(app)
    assert (status, decisions) == ("scheduled", 0), subjects
    assert not any("SPRG decision" in s for s in subjects), subjects  # nobody told anything
    [item] = held(app)
    assert item.linked_ref == "COC-2026-0001"
    return item


UNAUTHENTICATED = {
    "no Authentication-Results": postfix_trace(None),
    "our server says dmarc=fail": postfix_trace(opendmarc("fail", "example.org")),
    "a pass written by another server": postfix_trace(
        opendmarc("pass", "example.org", authserv_id="mx.cscp.example.org.evil.example")
    ),
    "a pass for another domain": postfix_trace(opendmarc("pass", "evil.example")),
    "dmarc=none": postfix_trace(opendmarc("none", "example.org")),
}


@pytest.mark.parametrize("trace", UNAUTHENTICATED.values(), ids=UNAUTHENTICATED.keys())
def test_an_unauthenticated_team_decision_is_held(bot: App, trace: list[str]) -> None:
    bot.mailbox.append(decision_mail(trace))
    poll(bot)
    bot.drainer.drain()
    item = assert_held_for_the_team(bot)
    assert item.sender == TEAM


EXCHANGE_UNAUTHENTICATED = {
    "outside mail, dmarc=fail": exchange_trace("fail", "example.org"),
    "outside mail, no DMARC verdict": exchange_trace("none", "example.org"),
    "internal to another tenant": exchange_trace(
        "none", "example.org", auth_as="Internal", tenant=OTHER_TENANT
    ),
    "anonymous, a forged Internal mark below": [
        *exchange_trace("none", "example.org"),
        "X-MS-Exchange-Organization-AuthAs: Internal",
    ],
}


@pytest.mark.parametrize("trace", EXCHANGE_UNAUTHENTICATED.values(), ids=EXCHANGE_UNAUTHENTICATED.keys())
def test_an_unauthenticated_team_decision_is_held_on_exchange_online(exo: App, trace: list[str]) -> None:
    exo.mailbox.append(decision_mail(trace))
    poll(exo)
    assert_held_for_the_team(exo)


AUTHENTICATED = {
    "authserv-id: dmarc=pass for the From's domain": ("bot", postfix_trace(opendmarc("pass", "example.org"))),
    "exchange-online: dmarc=pass, compauth=pass": ("exo", exchange_trace("pass", "example.org")),
    "exchange-online: sent inside our tenant": (
        "exo",
        exchange_trace("none", "example.org", auth_as="Internal"),
    ),
}


@pytest.mark.parametrize(("which", "trace"), AUTHENTICATED.values(), ids=AUTHENTICATED.keys())
def test_an_authenticated_team_decision_is_recorded(
    request: pytest.FixtureRequest, which: str, trace: list[str]
) -> None:
    app: App = request.getfixturevalue(which)
    app.mailbox.append(decision_mail(trace))
    poll(app)
    status, decisions, subjects = state(app)
    assert (status, decisions) == ("decided", 1)
    assert "[COC-2026-0001] SPRG decision" in subjects
    assert held(app) == []


def test_the_team_confirms_a_held_decision_on_the_command_line(
    bot: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.mailbox.append(decision_mail(postfix_trace(None)))
    poll(bot)
    item = assert_held_for_the_team(bot)
    assert item.confirms_decision
    for key, value in make_env(tmp_path, bot.settings.database_url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["quarantine", "release", item.id]) == 0
    assert "SPRG decision recorded" in capsys.readouterr().out
    bot.drainer.drain()
    status, decisions, subjects = state(bot)
    assert (status, decisions) == ("decided", 1)
    notices = [m for m in outbox_messages(bot) if str(m["Subject"]) == "[COC-2026-0001] SPRG decision"]
    assert [str(m["To"]) for m in notices] == [REFERRER]
    assert held(bot) == []


def test_the_team_confirms_a_held_decision_in_the_workspace(bot: App, clock: FixedClock) -> None:
    bot.mailbox.append(decision_mail(postfix_trace(opendmarc("pass", "evil.example"))))
    poll(bot)
    item = assert_held_for_the_team(bot)
    with bot.db.session() as session:
        users.add_user(session, "tess.team", "team", "correct horse battery", clock.now())
    client = web_app(bot).test_client()
    sign_in(client, "tess.team")
    listing = client.get("/quarantine").get_data(as_text=True)
    assert "Confirm the decision" in listing
    held_page = client.get(f"/quarantine/{item.id}").get_data(as_text=True)
    assert "The decision it would record" in held_page  # what the team is confirming
    assert "Near miss: serious injury to a non-mobile baby" in held_page
    assert "Confirm the decision" in held_page
    page = client.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "waiting for the team to confirm it" in page and "Confirm the decision" in page
    response = client.post(
        f"/quarantine/{item.id}/release", data={"csrf_token": csrf_of(page), "back": "/cases/COC-2026-0001"}
    )
    assert response.status_code == 302
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The SPRG decision for COC-2026-0001 is recorded" in follow
    bot.drainer.drain()
    status, decisions, subjects = state(bot)
    assert (status, decisions) == ("decided", 1)
    assert "[COC-2026-0001] SPRG decision" in subjects
