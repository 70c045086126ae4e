"""The reply-limit counts, in one transaction, on SQLite and PostgreSQL.

Intake queues a reply and checks the limits for the next message in the same
transaction (one per batch of messages): a reply queued moments ago and not yet
committed or even flushed must count, and a reply without a thread must not count
towards any thread. (``test_reply_limits.py`` has the same rules through the whole bot.)
"""

from __future__ import annotations

from datetime import timedelta

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.outbound.limits import ReplyLimits, passed_limit
from mailbot.outbound.mail import OutboundMail

SENDER = "Referrer@School.example.org"
LIMITS = ReplyLimits(per_hour=3, per_day=5, per_thread_day=2)


def _reply(n: int, recipient: str, topic: str | None) -> OutboundMail:
    return OutboundMail(
        kind="reply",
        template="already_received",
        subject="Referral received",
        recipient=recipient,
        refs=[f"COC-2026-{n:04d}"],
        context={"ref": f"COC-2026-{n:04d}"},
        topic=topic,
    )


def test_replies_queued_earlier_in_the_transaction_count(any_app: App, clock: FixedClock) -> None:
    vault, now = any_app.vault, clock.now()
    with any_app.db.session() as session:
        for n in range(3):
            assert passed_limit(session, vault, now, SENDER, None, LIMITS) is None
            any_app.outbound.queue(session, now, _reply(n, SENDER.lower(), None))  # not flushed
        assert passed_limit(session, vault, now, SENDER, None, LIMITS) == (
            "3 automatic replies to this address in the last hour"
        )
        assert passed_limit(session, vault, now, "other@example.org", None, LIMITS) is None
        session.rollback()


def test_the_day_and_the_thread_are_counted_apart(any_app: App, clock: FixedClock) -> None:
    vault = any_app.vault
    start = clock.now()
    with any_app.db.session() as session:
        for n in range(4):  # two hours apart: never three in an hour
            when = start + timedelta(hours=2 * n)
            any_app.outbound.queue(
                session, when, _reply(n, SENDER, "thread <a@b.example>" if n < 2 else None)
            )
        later = start + timedelta(hours=7)
        # two replies in the thread today, to anyone: the thread's limit
        assert passed_limit(session, vault, later, "new@example.org", "thread <a@b.example>", LIMITS) == (
            "2 automatic replies in this thread in the last day"
        )
        assert passed_limit(session, vault, later, "new@example.org", "thread <c@d.example>", LIMITS) is None
        assert passed_limit(session, vault, later, SENDER, None, LIMITS) is None  # 4 of 5 today
        any_app.outbound.queue(session, later, _reply(9, SENDER, None))
        assert passed_limit(session, vault, later, SENDER, None, LIMITS) == (
            "5 automatic replies to this address in the last day"
        )
        # a day on, the first replies have aged out
        assert (
            passed_limit(session, vault, start + timedelta(hours=26, minutes=1), SENDER, None, LIMITS) is None
        )
        session.commit()
