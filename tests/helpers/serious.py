"""A referral about a child who has died: the form with a Date of Death, in an e-mail
shaped like Outlook's (a long Exchange Message-ID), for serious-incident tests."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage

from helpers.forms_variants import Form

DOCX = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")
SENDER = "robin.sampleton@health.example.org"


def dod_form(died: date) -> bytes:
    form = Form().fill()
    form.set_control("Date of Death (if applicable)", f"{died:%d/%m/%Y}", full_date=died.isoformat())
    return form.to_bytes()


def dod_referral(died: date, n: int = 1) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Robin Sampleton <{SENDER}>"
    msg["To"] = "cscp@example.org"
    msg["Subject"] = "COC referral"
    msg["Date"] = "Wed, 23 Dec 2026 09:40:00 +0000"
    msg["Message-ID"] = (
        f"<DB9PR09MB7{n:04d}E1C4F2A9B8D7E6F5A4B3C2D1E0F9A8B7C6D5E4F3A2B1"
        "@DB9PR09MB7385.eurprd09.prod.outlook.com>"
    )
    msg["Thread-Topic"] = "COC referral"
    msg["X-MS-Has-Attach"] = "yes"
    msg.set_content("Please find the referral form attached.")
    msg.add_attachment(dod_form(died), maintype=DOCX[0], subtype=DOCX[1], filename="COC referral form.docx")
    return msg.as_bytes()
