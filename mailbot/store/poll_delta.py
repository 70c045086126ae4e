"""The Graph mailbox's delta state kept in the database (``poll_state``), for every worker.

``GraphMailbox`` takes any ``DeltaStore`` (``get``/``put`` of short text under a key of
at most 64 characters); this one writes a ``PollState`` row per mailbox folder, so a
restarted bot, or a second worker, resumes from the last completed delta round. The
value holds message ids and receipt times, never contents or addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mailbot.errors import MailboxConnectionError
from mailbot.store.db import Database
from mailbot.store.models import PollState


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DbDeltaStore:
    """``DeltaStore`` over the ``poll_state`` table."""

    def __init__(self, db: Database, now: Callable[[], datetime] = _utcnow) -> None:
        self.db = db
        self.now = now

    def get(self, key: str) -> str | None:
        try:
            with self.db.session() as session:
                row = session.get(PollState, key)
                return row.value if row is not None else None
        except SQLAlchemyError as exc:
            raise MailboxConnectionError(
                f"cannot read the mailbox's delta state from the database ({type(exc).__name__})"
            ) from exc

    def put(self, key: str, value: str) -> None:
        try:
            with self.db.session() as session:
                row = session.get(PollState, key)
                if row is None:
                    try:
                        with session.begin_nested():
                            session.add(PollState(name=key, value=value, updated_at=self.now()))
                        return
                    except IntegrityError:  # another worker wrote it first: update theirs
                        row = session.get(PollState, key)
                        if row is None:
                            raise
                row.value, row.updated_at = value, self.now()
        except SQLAlchemyError as exc:
            raise MailboxConnectionError(
                f"cannot save the mailbox's delta state in the database ({type(exc).__name__})"
            ) from exc
