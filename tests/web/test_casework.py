"""Notes, the owner, and writing to the referrer, from the workspace; the reply joins."""

from __future__ import annotations

import html
from email import message_from_bytes
from email.policy import default

import pytest
from flask.testing import FlaskClient
from helpers.hostile import message
from helpers.workspace import post
from sqlalchemy import select

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.store.models import AuditEntry, Case, InboundMessage, Outbox, TeamNote

REF = "COC-2026-0001"
REFERRER = "p.testington@exampleton-primary.example.org"


@pytest.mark.both_databases
def test_a_note_is_encrypted_audited_and_shown_with_author_and_time(
    team: FlaskClient, seeded_bot: App
) -> None:
    response = post(
        team,
        f"/cases/{REF}/notes",
        {"note": "Phoned Priya: the child has moved to Sutton."},
        page=f"/cases/{REF}",
    )
    assert response.status_code == 302
    page = team.get(f"/cases/{REF}").get_data(as_text=True)
    notes = page.split('id="notes-title"')[1]
    assert "Phoned Priya: the child has moved to Sutton." in notes
    assert "tess.team" in notes and "12/10/2026" in notes
    with seeded_bot.db.session() as session:
        row = session.scalars(select(TeamNote)).one()
        assert b"Sutton" not in row.text_enc
        actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "tess.team")))
    assert "case.note_added" in actions
    empty = post(team, f"/cases/{REF}/notes", {"note": "  "}, page=f"/cases/{REF}")
    assert empty.status_code == 302
    assert "The note was not added" in team.get(f"/cases/{REF}").get_data(as_text=True)


@pytest.mark.both_databases
def test_the_owner_is_a_member_of_the_team(team: FlaskClient, seeded_bot: App) -> None:
    assert post(team, f"/cases/{REF}/owner", {"owner": "tess.team"}, page=f"/cases/{REF}").status_code == 302
    assert (
        post(team, f"/cases/{REF}/owner", {"owner": "sam.sprg"}, page=f"/cases/{REF}").status_code == 302
    )  # refused: not in the team
    with seeded_bot.db.session() as session:
        assert session.scalars(select(Case.owner).where(Case.ref == REF)).one() == "tess.team"
    page = team.get("/queue").get_data(as_text=True)
    assert "<td>tess.team</td>" in page.split(f">{REF}</a>")[1].split("</tr>")[0]


@pytest.mark.both_databases
def test_write_to_the_referrer_warns_then_sends_and_the_reply_joins(
    team: FlaskClient, seeded_bot: App, clock: FixedClock
) -> None:
    url = f"/cases/{REF}/write"
    warned = post(
        team, url, {"text": "About Amelia, born 03/03/2015: please call us.", "recipient": REFERRER}
    )
    page = html.unescape(warned.get_data(as_text=True))
    assert warned.status_code == 200 and "Check before you send" in page
    assert "the child's name and the child's date of birth" in page
    with seeded_bot.db.session() as session:
        assert session.scalars(select(Outbox).where(Outbox.written_by.is_not(None))).first() is None
    clock.advance(seconds=60)
    sent = post(team, url, {"text": "Could you call us about the referral, please?", "recipient": REFERRER})
    assert sent.status_code == 302
    with seeded_bot.db.session() as session:
        row = session.scalars(select(Outbox).where(Outbox.written_by == "tess.team")).one()
        raw = seeded_bot.vault.open(session, row, "message_enc")
        our_id = row.message_id
        acknowledgement = session.scalars(
            select(Outbox.message_id).where(Outbox.kind == "reply", Outbox.written_by.is_(None))
        ).first()
    mail = message_from_bytes(raw, policy=default)
    assert mail["Subject"] == f"[{REF}] Message from the CSCP team"
    assert mail["To"] == REFERRER and mail["Auto-Submitted"] == "no"
    assert acknowledgement in str(mail["References"])  # follows the bot's last reply
    assert "Could you call us" in mail.get_body(preferencelist=("plain",)).get_content()
    page = team.get(f"/cases/{REF}").get_data(as_text=True)
    assert "Message from the team, written by tess.team" in page
    with seeded_bot.db.session() as session:
        before = set(session.scalars(select(InboundMessage.id)))
    clock.advance(seconds=60)
    # The referrer answers (Outlook-style ids, no tag in the subject): it joins the case.
    seeded_bot.mailbox.append(
        message(
            sender=f"Priya Testington <{REFERRER}>",
            subject="RE: Message from the CSCP team",
            message_id="<DB9PR09MB7296A1B2C3D4E5F60718293A4B5C6D7E8F@DB9PR09MB7296.eurprd09.prod.outlook.com>",
            headers=[("In-Reply-To", our_id), ("References", f"{acknowledgement} {our_id}")],
            text="Yes, I will call this afternoon.\r\n",
        )
    )
    Poller(seeded_bot).cycle()
    with seeded_bot.db.session() as session:
        answer = session.scalars(select(InboundMessage).where(InboundMessage.id.not_in(before))).one()
        assert answer is not None and answer.action == "merge_followup", answer.reason
    page = team.get(f"/cases/{REF}").get_data(as_text=True)
    conversation = page.split('id="messages-title"')[1]
    assert conversation.index("Could you call us") < conversation.index("Yes, I will call this afternoon.")
