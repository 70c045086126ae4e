"""Reply limits: the bot never feeds a mail loop or floods one address (issue 14).

An auto-responder that ignores RFC 3834 answers every reply of ours, and we would answer
it: a loop. So automatic replies to one address are capped per hour
(``mail.reply_limit_hour``) and per day (``mail.reply_limit_day``), and replies in one
thread at ``PER_THREAD_DAY`` a day. Past a limit the message is still handled and
recorded as usual, only not answered; the team is told once per sender per day, so a
flood does not become a flood of alerts.

Counting uses the outbox's keyed hashes (``recipient_index``, ``topic_index``): nothing
is decrypted and no address is stored in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from mailbot.clock import london
from mailbot.outbound.outbox import recipient_index
from mailbot.store.models import Outbox
from mailbot.store.vault import Vault

#: Replies in one thread in a day, at most.
PER_THREAD_DAY = 3


@dataclass(frozen=True)
class ReplyLimits:
    per_hour: int = 5
    per_day: int = 20
    per_thread_day: int = PER_THREAD_DAY


def thread_topic(message_id: str | None, references: list[str], in_reply_to: list[str]) -> str | None:
    """What identifies a conversation: its first message's id (References' root, else
    the message it answers, else its own id)."""
    root = references[0] if references else in_reply_to[0] if in_reply_to else message_id
    return f"thread {root}" if root else None


def limit_topic(sender: str, now: datetime) -> str:
    """The topic of the team's notice that a sender passed a limit today (one a day)."""
    return f"reply limit {sender.strip().lower()} {london(now).date().isoformat()}"


#: The three counts of :func:`passed_limit` (conditional aggregates over the last day's
#: replies to this address or in this thread), in one query built once: only its values
#: change per call. A reply with no thread binds ``topic`` to NULL, which matches nothing.
_WHO = Outbox.recipient_index == bindparam("who")
_THREAD = Outbox.topic_index == bindparam("topic")
_COUNTS = select(
    func.count().filter(_WHO, Outbox.created_at > bindparam("hour_ago")),
    func.count().filter(_WHO),
    func.count().filter(_THREAD),
).where(Outbox.kind == "reply", Outbox.created_at > bindparam("day_ago"), or_(_WHO, _THREAD))


def passed_limit(
    session: Session, vault: Vault, now: datetime, recipient: str, topic: str | None, limits: ReplyLimits
) -> str | None:
    """Which limit one more reply would pass, in plain words; None when it may go.

    The three counts come from one query (``_COUNTS``), not one query each; it runs in the
    caller's session, so replies queued earlier in the same transaction count (autoflush)."""
    values = {
        "who": recipient_index(vault, recipient),
        "topic": vault.index("topic", topic) if topic else None,
        "hour_ago": now - timedelta(hours=1),
        "day_ago": now - timedelta(days=1),
    }
    per_hour, per_day, per_thread = session.execute(_COUNTS, values).one()
    if per_hour >= limits.per_hour:
        return f"{limits.per_hour} automatic replies to this address in the last hour"
    if per_day >= limits.per_day:
        return f"{limits.per_day} automatic replies to this address in the last day"
    if topic and per_thread >= limits.per_thread_day:
        return f"{limits.per_thread_day} automatic replies in this thread in the last day"
    return None


def team_told(session: Session, vault: Vault, sender: str, now: datetime) -> bool:
    """Whether the team has already been told today that this sender passed a limit."""
    topic = vault.index("topic", limit_topic(sender, now))
    return bool(session.scalar(select(func.count()).select_from(Outbox).where(Outbox.topic_index == topic)))
