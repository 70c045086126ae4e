"""The whole bot on the embedded default: Maildir in, outbox folder out, fixed clock."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers.bot import EMAILS, eml, make_app
from helpers.pipeline import deliver, expected, handled, message_id, outbox_messages, poll, replies_to
from helpers.privacy import scan
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import queue as case_queue
from mailbot.cases import views
from mailbot.clock import FixedClock
from mailbot.store.models import Case
from mailbot.store.sealed_blob import open_pieces

FOUNDATION = [
    "mail-01-referral-complete",
    "mail-11-no-attachment",
    "mail-12-out-of-office",
    "mail-13-autoreply-x-headers",
    "mail-14-bounce-dsn",
    "mail-17-dmarc-fail",
]


@pytest.mark.parametrize("name", FOUNDATION)
def test_message_gets_expected_action_and_reply(app: App, name: str) -> None:
    deliver(app, name)
    poll(app)
    want = expected(name)
    got = handled(app)[message_id(name)]
    assert got["action"] == want["action"]
    replies = replies_to(app, name)
    assert len(replies) == (1 if want["reply"] else 0)
    if want["action"] in ("accept", "request_missing"):
        with app.db.session() as session:
            case = session.scalars(select(Case).where(Case.ref == got["case_refs"][0])).one()
            assert case.missing_required == want["missing_required"]


def test_incomplete_then_corrected_form_joins_the_same_case(any_app: App) -> None:
    deliver(any_app, "mail-02-referral-incomplete")
    poll(any_app)
    first = handled(any_app)[message_id("mail-02-referral-incomplete")]
    assert first["action"] == "request_missing"
    assert first["case_refs"] == ["COC-2026-0001"]
    (request,) = replies_to(any_app, "mail-02-referral-incomplete")
    assert str(request["Subject"]) == "[COC-2026-0001] Referral received - further information needed"
    body = request.get_body(("plain",)).get_content()
    for label in ("Your Role", "Date of Birth", "anticipated learning"):
        assert label.lower() in body.lower()

    deliver(any_app, "mail-03-followup-corrected-form")
    poll(any_app)
    second = handled(any_app)[message_id("mail-03-followup-corrected-form")]
    assert second["action"] == "merge_followup"
    assert second["case_refs"] == ["COC-2026-0001"]
    with any_app.db.session() as session:
        item = views.show(session, any_app.vault, "COC-2026-0001", from_address="cscp@example.org").as_json()
    assert item["status"] == "ready"
    assert item["missing_required"] == []
    assert item["version"] == 2
    (ack,) = replies_to(any_app, "mail-03-followup-corrected-form")
    assert "[COC-2026-0001]" in str(ack["Subject"])


def test_reply_conventions(app: App) -> None:
    deliver(app, "mail-01-referral-complete")
    poll(app)
    (reply,) = replies_to(app, "mail-01-referral-complete")
    assert str(reply["To"]) == "p.testington@exampleton-primary.example.org"
    assert reply["Cc"] is None and reply["Bcc"] is None
    assert str(reply["Auto-Submitted"]) == "auto-replied"
    assert str(reply["X-Auto-Response-Suppress"]) == "All"
    assert str(reply["Subject"]) == "[COC-2026-0001] Referral received"
    assert message_id("mail-01-referral-complete") in str(reply["References"])
    text = reply.get_body(("plain",)).get_content()
    assert "COC-2026-0001" in text
    assert "If a child is at immediate risk of harm, call 999." in text
    assert "next meeting" in text
    inbound_subject = "Case of Concern referral - A.E. (Year 6)"
    assert inbound_subject not in reply.as_string()


def test_delivered_twice_and_polled_twice_changes_nothing(any_app: App) -> None:
    deliver(any_app, "mail-01-referral-complete", "mail-11-no-attachment")
    poll(any_app)
    poll(any_app)
    deliver(any_app, "mail-01-referral-complete", "mail-11-no-attachment")
    poll(any_app)
    assert len(handled(any_app)) == 2
    with any_app.db.session() as session:
        assert len([i.as_json() for i in case_queue.queue(session, any_app.vault, any_app.clock.now())]) == 2
    assert len(outbox_messages(any_app)) == 2 + 0  # two replies, no alerts for these
    assert any_app.mailbox.list_new() == []


def test_nothing_personal_in_outbound_mail_or_database_files(tmp_path: Path, clock: FixedClock) -> None:
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock)
    names = sorted(p.stem for p in EMAILS.glob("*.eml"))
    names.remove("mail-03-followup-corrected-form")
    deliver(app, *names)
    poll(app)
    deliver(app, "mail-03-followup-corrected-form")
    poll(app)
    outbound = outbox_messages(app)
    assert len(outbound) >= 5
    for message in outbound:
        assert scan(message.as_bytes()) == [], message["Subject"]
    app.close()
    blobs = [p.read_bytes() for p in (tmp_path / "var").glob("mailbot.db*")]
    assert blobs
    for blob in blobs:
        assert scan(blob, min_len=6) == []


def _letter_docx() -> bytes:
    import io

    from docx import Document

    doc = Document()
    doc.add_paragraph("Dear CSCP, a chronology of contacts is attached for the panel.")
    doc.add_paragraph("12/09/2026 Home visit. 14/09/2026 Strategy meeting not held.")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def test_other_documents_are_kept_with_the_case_encrypted(any_app: App) -> None:
    from email import message_from_bytes

    from mailbot.store.models import Attachment, SealedPiece

    original = message_from_bytes(eml("mail-01-referral-complete"), policy=policy.default)
    assert isinstance(original, EmailMessage)
    original.add_attachment(
        _letter_docx(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="chronology.docx",
    )
    any_app.mailbox.append(original.as_bytes())
    poll(any_app)
    with any_app.db.session() as session:
        item = views.show(session, any_app.vault, "COC-2026-0001", from_address="x").as_json()
        kinds = {a["filename"]: a["kind"] for a in item["attachments"]}
        assert kinds == {"coc-01-complete.docx": "form", "chronology.docx": "other"}
        stored = session.scalars(select(Attachment).where(Attachment.kind == "other")).one()
        pieces = session.scalars(select(SealedPiece.data_enc).where(SealedPiece.owner_id == stored.id)).all()
        assert pieces and not any(b"chronology" in p for p in pieces)
        plain = open_pieces(session, any_app.vault, stored, "data_enc")
        assert plain.startswith(b"PK") and b"word/document.xml" in plain
    assert item["status"] == "ready"


def _reply_about(ref: str, sender: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "cscp@example.org"
    msg["Subject"] = f"RE: [{ref}] Referral received - further information needed"
    msg["Date"] = "Tue, 13 Oct 2026 10:00:00 +0100"
    msg["Message-ID"] = f"<followup-{n}@example.net>"
    msg.set_content("Her date of birth is in the notes; I will send the form tomorrow.")
    return msg.as_bytes()


def _team_alerts(any_app: App) -> list[EmailMessage]:
    return [m for m in outbox_messages(any_app) if str(m["To"]) == "cscp-team@example.org"]


def test_follow_up_without_a_form_is_merged_and_the_team_told(app: App) -> None:
    deliver(app, "mail-02-referral-incomplete")
    poll(app)
    app.mailbox.append(_reply_about("COC-2026-0001", "tomasz.placeholderski@nhs-sample.example.net", 1))
    poll(app)
    got = handled(app)["<followup-1@example.net>"]
    assert got["action"] == "merge_followup" and got["case_refs"] == ["COC-2026-0001"]
    (alert,) = _team_alerts(app)
    assert "[COC-2026-0001]" in str(alert["Subject"])
    assert "date of birth is in the notes" not in alert.as_string()
    assert replies_to(app, "mail-02-referral-incomplete")  # the first request stands
    assert not [
        m
        for m in outbox_messages(app)
        if str(m.get("In-Reply-To", "")) == "<followup-1@example.net>"
        and str(m["To"]) != "cscp-team@example.org"
    ]


def test_message_about_a_case_from_another_sender_is_held_and_linked(any_app: App) -> None:
    deliver(any_app, "mail-02-referral-incomplete")
    poll(any_app)
    any_app.mailbox.append(_reply_about("COC-2026-0001", "someone.else@example.com", 2))
    poll(any_app)
    got = handled(any_app)["<followup-2@example.net>"]
    assert got["action"] == "quarantine" and "different sender" in got["reason"]
    with any_app.db.session() as session:
        shown = views.show(session, any_app.vault, "COC-2026-0001", from_address="x").as_json()
        assert shown["version"] == 1  # the case was not changed
        assert any(m["kind"] == "quarantine" for m in shown["messages"])  # but it is linked
    (alert,) = _team_alerts(any_app)
    assert "[COC-2026-0001]" in str(alert["Subject"])


def _reply_with_form(subject: str, sender: str, form: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "cscp@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 13 Oct 2026 10:00:00 +0100"
    msg["Message-ID"] = f"<formreply-{n}@example.net>"
    msg.set_content("Updated form attached.")
    data = (Path(__file__).resolve().parents[1] / "data" / "forms" / f"{form}.docx").read_bytes()
    msg.add_attachment(
        data,
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename=f"{form}.docx",
    )
    return msg.as_bytes()


def test_reply_to_a_two_case_acknowledgement_feeds_the_case_of_its_child(app: App) -> None:
    deliver(app, "mail-15-two-forms")  # coc-03 then coc-05: COC-2026-0001, COC-2026-0002
    poll(app)
    app.mailbox.append(
        _reply_with_form(
            "RE: [COC-2026-0001] [COC-2026-0002] Referrals received",
            "olusegun.sampleman@yjs.example.net",
            "coc-05-long-text",
            1,
        )
    )
    poll(app)
    got = handled(app)["<formreply-1@example.net>"]
    assert got["action"] == "merge_followup" and got["case_refs"] == ["COC-2026-0002"]
    with app.db.session() as session:
        first = views.show(session, app.vault, "COC-2026-0001", from_address="x").as_json()
        second = views.show(session, app.vault, "COC-2026-0002", from_address="x").as_json()
    assert first["version"] == 1 and second["version"] == 2
    assert first["referral"]["child"]["full_name"] != second["referral"]["child"]["full_name"]


def test_a_form_for_a_decided_case_is_kept_but_changes_nothing(app: App) -> None:
    deliver(app, "mail-02-referral-incomplete")
    poll(app)
    with app.db.session() as session:
        case = session.scalars(select(Case).where(Case.ref == "COC-2026-0001")).one()
        case.status = "decided"
    sent_before = len(outbox_messages(app))
    deliver(app, "mail-03-followup-corrected-form")
    poll(app)
    got = handled(app)[message_id("mail-03-followup-corrected-form")]
    assert got["action"] == "merge_followup" and "not applied" in got["reason"]
    with app.db.session() as session:
        shown = views.show(session, app.vault, "COC-2026-0001", from_address="x").as_json()
    assert shown["version"] == 1 and shown["status"] == "decided"
    assert [a["kind"] for a in shown["attachments"]] == ["form", "form"]
    assert replies_to(app, "mail-03-followup-corrected-form") == []  # no "now complete"
    assert len(outbox_messages(app)) == sent_before + 1
    (alert,) = _team_alerts(app)
    assert "[COC-2026-0001]" in str(alert["Subject"])


def test_a_message_handled_alone_keeps_the_attachments_read_ahead_for_the_next_batch(app: App) -> None:
    """A lone message (one tried before, or a batch's straggler) may be handled while the
    reader thread holds the next batch's attachments: it drops its own, not theirs,
    else the next batch reads them again inside its write transaction."""
    ahead = app.intake.read(eml("mail-01-referral-complete"))
    app.intake.preread(ahead)  # as the reader thread does for batch k+1
    assert id(ahead) in app.intake._forms
    deliver(app, "mail-04-handtyped-dates")
    poll(app)  # one message: handled alone
    assert len(handled(app)) == 1
    assert id(ahead) in app.intake._forms  # the next batch's, still there
    app.intake.forget_forms([ahead])
    assert app.intake._forms == {}
