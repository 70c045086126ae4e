"""Reply limits through the whole bot (issue 14): an auto-responder that ignores RFC 3834
and answers everything cannot start a loop, and one address is never flooded."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from helpers.pipeline import handled, outbox_messages, poll

from mailbot.app import App
from mailbot.clock import london

RESPONDER = "helpdesk@school.example.org"
TEAM = "cscp-team@example.org"


def auto_reply(n: int, quoting: EmailMessage | None) -> bytes:
    """An out-of-office that quotes what it answers and says nothing of RFC 3834: no
    Auto-Submitted, no tag, no threading (as some appliances write them)."""
    msg = EmailMessage()
    msg["From"] = f"School Helpdesk <{RESPONDER}>"
    msg["To"] = "cscp@example.org"
    msg["Subject"] = "Out of office"
    msg["Date"] = "Mon, 12 Oct 2026 09:00:00 +0100"
    msg["Message-ID"] = f"<AM0PR10MB{n:05d}7F3A2B1C0D9E8F7A6B5C4D3E2F1A0B9C8D7E6F5A4B3@helpdesk.example.org>"
    quoted = (
        quoting.get_body(("plain",)).get_content()
        if quoting
        else "Please find attached a case of concern referral."
    )  # type: ignore[union-attr]
    msg.set_content("I am out of the office.\n\n> " + quoted.replace("\n", "\n> "))
    return msg.as_bytes()


def to_responder(app: App) -> list[EmailMessage]:
    return [m for m in outbox_messages(app) if str(m["To"]) == RESPONDER]


def alerts_about_limits(app: App) -> list[EmailMessage]:
    return [
        m
        for m in outbox_messages(app)
        if str(m["To"]) == TEAM and "automatic replies stopped" in str(m["Subject"])
    ]


def loop(app: App, rounds: int, step: timedelta) -> list:  # type: ignore[type-arg]
    """The responder answers our newest reply (or repeats itself) every round."""
    sent_at = []
    for n in range(rounds):
        replies = to_responder(app)
        app.mailbox.append(auto_reply(n, replies[-1] if replies else None))
        poll(app)
        if len(to_responder(app)) > len(replies):
            sent_at.append(app.clock.now())
        app.clock.advance(seconds=step.total_seconds())  # type: ignore[attr-defined]
    return sent_at


def test_a_responder_answering_everything_gets_at_most_the_hourly_limit(app: App) -> None:
    loop(app, 100, timedelta(seconds=5))  # 100 rounds in under ten minutes
    assert len(to_responder(app)) == 5
    assert len(handled(app)) == 100  # every message handled and recorded
    limited = [m for m in handled(app).values() if "not answered" in (m["reason"] or "")]
    assert len(limited) == 95
    (alert,) = alerts_about_limits(app)  # the team told once, however long the flood
    assert "names no personal data" in alert.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert RESPONDER not in alert.as_string()


def test_over_two_days_no_hour_passes_five_and_no_day_twenty(app: App) -> None:
    sent_at = loop(app, 100, timedelta(minutes=30))  # 50 hours
    assert sent_at
    for moment in sent_at:
        assert sum(moment <= t < moment + timedelta(hours=1) for t in sent_at) <= 5
        assert sum(moment <= t < moment + timedelta(days=1) for t in sent_at) <= 20
    days = {london(m).date() for m in sent_at}
    assert len(alerts_about_limits(app)) <= len(days) + 1


def test_one_thread_gets_at_most_three_replies_a_day(app: App) -> None:
    root = "<CWLP265MB0001A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D7E8F9A0B1C2D3@nhs.example.net>"
    for n in range(6):
        msg = EmailMessage()
        msg["From"] = f"nurse{n}@nhs.example.net"  # six people, one conversation
        msg["To"] = "cscp@example.org"
        msg["Subject"] = "RE: Case of concern referral"
        msg["Date"] = "Mon, 12 Oct 2026 09:00:00 +0100"
        msg["Message-ID"] = f"<CWLP265MB{n:04d}F0E1D2C3B4A5968778695A4B3C2D1E0F@nhs.example.net>"
        msg["References"] = root
        msg["In-Reply-To"] = root
        msg.set_content("About the case of concern referral: the form will follow.")
        app.mailbox.append(msg.as_bytes())
    poll(app)
    answered = [m for m in outbox_messages(app) if str(m["To"]).startswith("nurse")]
    assert len(answered) == 3
    assert sum("in this thread" in (m["reason"] or "") for m in handled(app).values()) == 3
