"""Wrapped mail (issue 14) through a real Dovecot and an aiosmtpd relay: a representative
message of each shape is appended over IMAP, handled, filed, and answered by SMTP."""

from __future__ import annotations

from email.parser import BytesParser
from pathlib import Path

from helpers import wrapped_mail as w
from helpers.bot import make_app
from helpers.pipeline import handled

from mailbot.clock import FixedClock
from mailbot.intake.handlers.sealed import LOCKED_REASON, PORTAL_REASON
from mailbot.intake.poller import Poller

SHAPES = {
    "signed": (w.smime_detached(n=101), "accept"),
    # The same referral from the same sender as "signed": joined to that case (resend rule).
    "opaque": (w.smime_opaque(n=102), "merge_followup"),
    "winmail": (w.with_winmail(n=103), "accept"),
    "outlook item": (w.with_outlook_item(n=104), "accept"),
    "forwarded": (w.forwarded_as_attachment(n=105), "merge_followup"),  # as "outlook item"
    "egress": (w.egress_notice(n=106), "manual_entry"),
    "password": (w.password_protected(n=107), "manual_entry"),
    "encrypted": (w.smime_encrypted(n=108), "manual_entry"),
}


def test_each_shape_through_dovecot_and_smtp(
    tmp_path: Path, clock: FixedClock, dovecot_account, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
        clock,
        MAILBOT_MAILBOX_URL=dovecot_account.url("imap", "INBOX"),
        MAILBOT_MAILBOX_PASSWORD=dovecot_account.password,
        MAILBOT_OUTBOUND_URL=smtp_server.url("smtp"),
    )
    try:
        with dovecot_account.client() as client:
            for raw, _action in SHAPES.values():
                client.append("INBOX", raw)
        Poller(app).cycle()
        rows = handled(app)
        by_id = {
            BytesParser().parsebytes(raw)["Message-ID"].strip(): (name, action)
            for name, (raw, action) in SHAPES.items()
        }
        assert {by_id[mid][0]: row["action"] for mid, row in rows.items()} == {
            name: action for name, (_raw, action) in SHAPES.items()
        }
        reasons = {by_id[mid][0]: row["reason"] for mid, row in rows.items()}
        assert reasons["egress"] == PORTAL_REASON and reasons["password"] == LOCKED_REASON
        assert "signature valid" in reasons["signed"] and "TNEF" in reasons["winmail"]
        subjects = [str(BytesParser().parsebytes(r.data)["Subject"]) for r in smtp_server.handler.received]
        assert len(subjects) >= len(SHAPES)  # each sender answered, the team alerted
        assert not any("Please send the referral form" in s for s in subjects)
        with dovecot_account.client() as client:
            client.select_folder("INBOX")
            assert client.search("ALL") == []  # every message filed after the commit
            client.select_folder("Processed")
            assert len(client.search("ALL")) == len(SHAPES)
    finally:
        app.close()
