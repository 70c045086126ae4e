"""A batch's transaction (issue 18): at once, and message by message only when one raised."""

from __future__ import annotations

import logging

import pytest
from helpers.bot import simple_referral
from helpers.pipeline import deliver_raw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.intake.pipeline import Seen
from mailbot.intake.poller import Poller
from mailbot.mail.mailbox import MailboxRef
from mailbot.store.models import Case, Outbox
from mailbot.store.models import InboundMessage as MessageRow


def count(app: App, model: type) -> int:
    with app.db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_message_stored_meanwhile_but_not_seen_is_only_filed(
    any_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """On PostgreSQL the claim and the look for the row are one statement, whose snapshot
    can predate another worker's commit: the row is missed and the message stored again.
    The unique dedupe key fails that transaction; the batch, stored again a message at a
    time, finds the row and only files the copy: one case, one reply, nothing held."""
    again = simple_referral(0, "twice")
    deliver_raw(any_app, [again])
    assert len(Poller(any_app).cycle().handled) == 1
    deliver_raw(any_app, [simple_referral(1, "new"), again, simple_referral(2, "new")])
    claim = any_app.intake._claim
    missed: list[MailboxRef] = []

    def stale(session: Session, ref: MailboxRef, dedupe: str) -> tuple[bool, Seen | None]:
        claimed, seen = claim(session, ref, dedupe)
        if seen is not None and not missed:  # as if another worker committed just now
            missed.append(ref)
            return claimed, None
        return claimed, seen

    any_app.intake._claim = stale  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="mailbot.intake.storing"):
        result = Poller(any_app).cycle()
    assert missed, "the stored message was not looked for"
    assert "a batch is stored again, a message at a time" in caplog.text
    assert result.left == 0 and len(result.handled) == 3
    assert any_app.mailbox.list_new() == []
    assert (count(any_app, Case), count(any_app, Outbox), count(any_app, MessageRow)) == (3, 3, 3)
    with any_app.db.session() as session:
        actions = set(session.scalars(select(MessageRow.action)))
    assert actions == {"request_missing"}  # none held


def test_a_batch_without_trouble_is_stored_in_one_pass(
    any_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    deliver_raw(any_app, [simple_referral(n, "clean") for n in range(5)])
    with caplog.at_level(logging.INFO, logger="mailbot.intake.storing"):
        result = Poller(any_app).cycle()
    assert len(result.handled) == 5 and result.left == 0
    assert "stored again" not in caplog.text
    assert (count(any_app, Case), count(any_app, Outbox)) == (5, 5)
