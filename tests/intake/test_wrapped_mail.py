"""Mail as the public sector sends it, through the whole bot (issue 14): signed,
encrypted, TNEF, Outlook items, forwards, secure-portal notices, protected files.

A referrer who did everything right must never be told to send the form."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers import wrapped_mail as w
from helpers.bot import make_app
from helpers.forms_variants import BASE_VALUES, Form
from helpers.pipeline import outbox_messages, poll
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import views
from mailbot.clock import FixedClock
from mailbot.intake.handlers.sealed import ENCRYPTED_REASON, LOCKED_REASON, PORTAL_REASON
from mailbot.mail.smime import INVALID, VALID
from mailbot.store.models import Attachment
from mailbot.store.sealed_blob import open_pieces

TEAM = "cscp-team@example.org"


def run(app: App, raw: bytes) -> tuple[dict, dict | None]:
    """Deliver one message, poll, and return its ``messages`` row and its case."""
    app.mailbox.append(raw)
    poll(app)
    with app.db.session() as session:
        rows = [m.as_json() for m in views.messages(session, app.vault)]
        row = rows[-1]
        case = (
            views.show(session, app.vault, row["case_refs"][0], from_address="x").as_json()
            if row["case_refs"]
            else None
        )
    return row, case


def replies(app: App, to: str) -> list[EmailMessage]:
    return [m for m in outbox_messages(app) if str(m["To"]).lower() == to]


def never_asked_for_the_form(app: App) -> None:
    for mail in outbox_messages(app):
        assert "Please send the referral form" not in str(mail["Subject"])


@pytest.mark.parametrize(
    ("build", "signature"),
    [
        (lambda: w.smime_detached(), VALID),
        (lambda: w.smime_detached().replace(b"\r\n", b"\n"), VALID),  # as a Maildir stores it
        (lambda: w.smime_opaque(), VALID),
        (lambda: w.smime_detached(tamper=True), INVALID),
    ],
    ids=["multipart-signed", "multipart-signed-lf", "opaque-signed-data", "altered-after-signing"],
)
def test_signed_referral_is_read_and_its_signature_recorded(app: App, build, signature: str) -> None:  # type: ignore[no-untyped-def]
    row, case = run(app, build())
    assert row["action"] == "accept"
    assert f"S/MIME signed message: {signature}" in row["reason"]
    assert case is not None and case["referral"]["child"]["full_name"] == "Amelia Rose Exampleby"
    (reply,) = replies(app, "sam.signer@police.example.net")
    assert str(reply["Subject"]).endswith("Referral received")
    never_asked_for_the_form(app)


def test_encrypted_referral_without_a_key_waits_for_a_person(app: App) -> None:
    row, case = run(app, w.smime_encrypted())
    assert row["action"] == "manual_entry"
    assert row["reason"].startswith(ENCRYPTED_REASON)
    assert case is not None and case["status"] == "manual_entry"
    (reply,) = replies(app, "sam.signer@police.example.net")
    assert "sent encrypted" in reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    (alert,) = replies(app, TEAM)
    assert case["ref"] in str(alert["Subject"]) and "encrypted" in str(alert["Subject"])
    never_asked_for_the_form(app)


def test_encrypted_referral_is_opened_with_the_mailbox_key(
    tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> None:
    key_file = tmp_path / "smime.pem"
    key_file.write_bytes(w.identity_pem())
    app = make_app(tmp_path, sqlite_url, clock, MAILBOT_SMIME_KEY_FILE=str(key_file))
    try:
        row, case = run(app, w.smime_encrypted())
        assert row["action"] == "accept"
        assert "opened with the mailbox's key" in row["reason"]
        assert case is not None and case["referral"]["referrer"]["name"] == "Priya Testington"
        # Encrypted to someone else's certificate: not ours to open, so a person does.
        other = w.identity("Other Body", "other@example.net")[0]
        row, _case = run(app, w.smime_encrypted(to=other, n=4))
        assert row["action"] == "manual_entry" and "not for our key" in row["reason"]
    finally:
        app.close()


def test_winmail_dat_is_read_as_if_the_form_were_attached(app: App) -> None:
    row, case = run(app, w.with_winmail())
    assert row["action"] == "accept" and "winmail.dat (TNEF) opened" in row["reason"]
    assert case is not None and case["referral"]["child"]["dob"] == "2015-03-03"
    never_asked_for_the_form(app)


@pytest.mark.parametrize(
    "build", [w.with_outlook_item, w.forwarded_as_attachment], ids=["outlook-item", "message-rfc822"]
)
def test_forwarded_referral_names_the_person_in_the_form(app: App, build) -> None:  # type: ignore[no-untyped-def]
    row, case = run(app, build())
    assert row["action"] == "accept"
    assert "Outlook item (.msg) opened" in row["reason"] or "forwarded message" in row["reason"]
    assert case is not None
    assert case["referral"]["referrer"]["email"] == "p.testington@exampleton-primary.example.org"
    # The forwarder is answered: they sent it to us.
    assert replies(app, "fran.forwarder@council.example.gov.uk")
    never_asked_for_the_form(app)


@pytest.mark.parametrize(
    "build", [w.with_outlook_item, w.forwarded_as_attachment], ids=["outlook-item", "message-rfc822"]
)
def test_forwarded_form_without_an_email_names_the_forwarder(app: App, build) -> None:  # type: ignore[no-untyped-def]
    values = {k: v for k, v in BASE_VALUES.items() if k != "Email"}
    row, case = run(app, build(Form().fill(values).to_bytes()))
    assert row["action"] == "accept"
    assert case is not None
    assert case["referral"]["referrer"]["email"] == "fran.forwarder@council.example.gov.uk"


@pytest.mark.parametrize(
    "build",
    [w.egress_notice, w.nhsmail_secure_notice, w.purview_encrypted, w.cjsm_notice],
    ids=["egress", "nhsmail", "purview", "cjsm"],
)
def test_secure_portal_notice_is_held_for_a_person(app: App, build) -> None:  # type: ignore[no-untyped-def]
    raw = build()
    row, case = run(app, raw)
    assert row["action"] == "manual_entry"
    assert row["reason"] == PORTAL_REASON
    assert case is not None and case["status"] == "manual_entry"
    sender = next(m for m in outbox_messages(app) if str(m["To"]) != TEAM)
    text = sender.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "arrived safely" in text and "A member of the CSCP team will open it" in text
    assert "send the form" not in text.lower()
    (alert,) = replies(app, TEAM)
    assert case["ref"] in str(alert["Subject"]) and "secure message" in str(alert["Subject"])
    never_asked_for_the_form(app)


def test_password_protected_form_is_held_and_the_referrer_told_to_expect_a_call(app: App) -> None:
    row, case = run(app, w.password_protected())
    assert row["action"] == "manual_entry" and row["reason"] == LOCKED_REASON
    assert case is not None and case["status"] == "manual_entry"
    (reply,) = replies(app, "ali.dsl@school.example.org")
    text = reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "contact you by phone to ask for the password" in text
    assert "without a password" not in text
    (alert,) = replies(app, TEAM)
    assert case["ref"] in str(alert["Subject"])
    with app.db.session() as session:  # the protected file is kept for the person
        (kept,) = session.scalars(select(Attachment)).all()
        assert kept.kind == "manual"
        assert open_pieces(session, app.vault, kept, "data_enc").startswith(b"\xd0\xcf\x11\xe0")


def test_password_protected_form_in_a_reply_is_not_refused(app: App) -> None:
    first, case = run(
        app,
        w.message(
            sender="ali.dsl@school.example.org",
            n=50,
            subject="Case of concern referral",
            text="Form to follow.",
        ).as_bytes(),
    )
    assert first["action"] == "request_missing" and case is not None
    reply = w.password_protected(n=51).replace(
        b"Subject: Case of concern referral", f"Subject: RE: [{case['ref']}] Form".encode()
    )
    row, _case = run(app, reply)
    assert row["action"] == "merge_followup" and "password-protected" in row["reason"]
    subjects = [str(m["Subject"]) for m in replies(app, "ali.dsl@school.example.org")]
    assert len(subjects) == 2
    assert any("phone you for the password" in s for s in subjects)


def test_general_mail_mentioning_security_is_not_a_portal_notice(app: App) -> None:
    raw = w.message(
        sender="it.team@council.example.gov.uk",
        subject="Newsletter",
        n=40,
        text="Our secure file transfer is down on Friday.",
    ).as_bytes()
    row, case = run(app, raw)
    assert row["action"] == "not_referral" and case is None
