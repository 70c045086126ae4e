"""A scan nobody can parse: opened for a person, completed by hand with ``mailbot edit``."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest
from helpers.pipeline import outbox_messages, poll
from pypdf import PdfWriter
from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import store as case_store
from mailbot.cases import views
from mailbot.cases.editing import edit_field as casework_edit
from mailbot.errors import NotFound, UsageError
from mailbot.store.models import Attachment, ReferralVersion
from mailbot.store.sealed_blob import open_pieces


def edit_field(session, vault, clock, ref, key, value, *, actor, why=None):  # type: ignore[no-untyped-def]
    case = case_store.case_by_ref(session, ref)
    casework_edit(
        session, vault, case, clock.now(), key, value, user=actor, reason=why or "read from the scan"
    )


def scanned_referral() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    msg = EmailMessage()
    msg["From"] = "Dana Scanwell <dana.scanwell@police.example.net>"
    msg["To"] = "cscp@example.org"
    msg["Subject"] = "Case of concern referral (scanned)"
    msg["Date"] = "Mon, 12 Oct 2026 08:00:00 +0100"
    msg["Message-ID"] = "<scan-1@police.example.net>"
    msg.set_content("Please find attached a case of concern referral form (scanned).")
    msg.add_attachment(buffer.getvalue(), maintype="application", subtype="pdf", filename="scan.pdf")
    return msg.as_bytes()


FILLS = [
    ("referrer.name", "Dana Scanwell"),
    ("referrer.role", "Detective Constable"),
    ("referrer.agency", "Example Police"),
    ("child.full_name", "Casey Handentered"),
    ("child.dob", "4th May 2016"),
    ("child.address", "1 Paper Lane"),
    ("incident_details", "Read from the scan."),
    ("anticipated_learning", "To be agreed."),
]


def test_scan_opens_a_manual_entry_case_that_a_person_completes(app: App) -> None:
    app.mailbox.append(scanned_referral())
    poll(app)
    with app.db.session() as session:
        (item,) = [i.as_json() for i in views.messages(session, app.vault)]
        assert item["action"] == "manual_entry"
        (ref,) = item["case_refs"]
        case = views.show(session, app.vault, ref, from_address="x").as_json()
        assert case["status"] == "manual_entry"
        kept = session.scalars(select(Attachment)).all()
        assert [a.kind for a in kept] == ["manual"]
        assert open_pieces(session, app.vault, kept[0], "data_enc").startswith(b"%PDF-")
    reply = next(m for m in outbox_messages(app) if str(m["To"]).startswith("dana"))
    assert "the CSCP team will enter your form" in str(reply["Subject"])
    alert = next(m for m in outbox_messages(app) if str(m["To"]) == "cscp-team@example.org")
    assert ref in str(alert["Subject"])

    for key, value in FILLS[:-1]:
        with app.db.session() as session:
            edit_field(
                session, app.vault, app.clock, ref, key, value, actor="team.member", why="read from the scan"
            )
    with app.db.session() as session:
        assert views.show(session, app.vault, ref, from_address="x").as_json()["status"] == "manual_entry"
    key, value = FILLS[-1]
    with app.db.session() as session:
        edit_field(session, app.vault, app.clock, ref, key, value, actor="team.member")
    with app.db.session() as session:
        shown = views.show(session, app.vault, ref, from_address="x").as_json()
        assert shown["status"] == "ready"
        assert shown["referral"]["child"]["dob"] == "2016-05-04"
        assert shown["provenance"]["child.dob"] == "manual:team.member"
        versions = session.scalars(
            select(ReferralVersion).where(
                ReferralVersion.case_id == session.scalars(select(ReferralVersion.case_id)).first()
            )
        ).all()
        assert {v.created_by for v in versions[1:]} == {"team.member"}


def test_edit_refuses_unknown_fields_and_bad_dates(app: App) -> None:
    app.mailbox.append(scanned_referral())
    poll(app)
    with app.db.session() as session, pytest.raises(NotFound):
        edit_field(session, app.vault, app.clock, "COC-2026-0001", "child.shoe_size", "5", actor="t")
    with app.db.session() as session, pytest.raises(NotFound):
        edit_field(session, app.vault, app.clock, "COC-2026-0001", "household.99999999.name", "x", actor="t")
    with app.db.session() as session, pytest.raises(UsageError):
        edit_field(session, app.vault, app.clock, "COC-2026-0001", "child.dob", "soon", actor="t")
