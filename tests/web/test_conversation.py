"""Reading the mail in the workspace: a case's conversation and a held message's page."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from helpers.hostile import message
from helpers.workspace import post
from sqlalchemy import select

from mailbot.app import App
from mailbot.intake.poller import Poller
from mailbot.store.models import AuditEntry, InboundMessage

SENDER = "Priya Testington <p.testington@exampleton-primary.example.org>"


def held_id(bot: App) -> str:
    with bot.db.session() as session:
        return session.scalars(select(InboundMessage.id).where(InboundMessage.action == "quarantine")).one()


def audited(bot: App, action: str) -> list[AuditEntry]:
    with bot.db.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.mark.both_databases
def test_the_case_page_shows_each_message_in_and_out_with_its_text(
    team: FlaskClient, seeded_bot: App
) -> None:
    page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    conversation = page.split('id="messages-title"')[1].split('id="files-title"')[0]
    # The referrer's covering e-mail, as written, then the bot's acknowledgement.
    received = conversation.index("Please find attached a Case of Concern Review referral form")
    sent = conversation.index("Thank you for your Case of Concern referral")
    assert received < sent
    assert "Designated Safeguarding Lead" in conversation
    assert "Form received (complete)" in conversation
    assert "Reply sent (sent)" in conversation or "Reply sent (waiting to be sent)" in conversation
    assert "coc-01-complete.docx" in conversation  # the file, to download
    assert "/cases/COC-2026-0001/attachments/" in conversation
    # A message without a form reads as one.
    no_form = team.get("/cases/COC-2026-0003").get_data(as_text=True)
    assert "No form attached: asked for the form" in no_form
    views = [e for e in audited(seeded_bot, "case.viewed") if e.actor == "tess.team"]
    assert any("conversation" in e.detail for e in views)


@pytest.mark.both_databases
def test_html_mail_is_shown_sanitised(team: FlaskClient, seeded_bot: App) -> None:
    seeded_bot.mailbox.append(
        message(
            sender=SENDER,
            subject="Re: [COC-2026-0001] Referral received",
            message_id="<AM0PR01MB1234ABCD5678EF90123456789ABCDEF0123@AM0PR01MB1234.eurprd01.prod.outlook.com>",
            html='<p>The child has since <b>moved to Sutton</b>.</p><img src="https://t.example.net/o.gif">'
            '<script>alert(1)</script><a href="javascript:alert(2)">x</a>',
        )
    )
    Poller(seeded_bot).cycle()
    page = team.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "The child has since <b>moved to Sutton</b>." in page
    for bad in ("t.example.net", "<script>alert", "javascript:"):
        assert bad not in page


@pytest.mark.both_databases
def test_a_held_message_can_be_read_before_release(team: FlaskClient, seeded_bot: App) -> None:
    row_id = held_id(seeded_bot)
    listing = team.get("/quarantine").get_data(as_text=True)
    assert f"/quarantine/{row_id}" in listing
    page = team.get(f"/quarantine/{row_id}").get_data(as_text=True)
    assert "Please action the attached referral urgently." in page
    assert "hamish.exampleton@police.example.net" in page
    assert "Release" in page and "Reject" in page
    viewed = audited(seeded_bot, "message.viewed")
    assert [(e.actor, e.message_id) for e in viewed] == [("tess.team", row_id)]
    response = post(team, f"/quarantine/{row_id}/release", {}, page=f"/quarantine/{row_id}")
    assert response.status_code == 302
    after = team.get(f"/quarantine/{row_id}").get_data(as_text=True)
    assert "Your decision" not in after and "released" in after
    assert team.get("/quarantine/" + "0" * 32).status_code == 404
    assert team.get("/quarantine/not-an-id").status_code == 404


def test_sprg_members_cannot_read_messages(seeded_bot: App) -> None:
    from helpers.workspace import sign_in, web_app

    sprg = web_app(seeded_bot).test_client()
    sign_in(sprg, "sam.sprg")
    assert sprg.get(f"/quarantine/{held_id(seeded_bot)}").status_code == 403
    page = sprg.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "Please find attached a Case of Concern Review" not in page
