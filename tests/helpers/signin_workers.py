"""Run in processes of their own by the parallel-burst tests (kept light to import)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailbot.store.db import Database
from mailbot.web import users


def wrong_guesses(url: str, name: str, count: int, address: str, at: str, barrier: Any) -> list[str]:
    """``count`` wrong passwords in a row from ``address``, once every process is ready."""
    db = Database(url)
    now = datetime.fromisoformat(at)
    reasons = []
    try:
        barrier.wait(timeout=120)
        for _ in range(count):
            with db.session() as session:
                reasons.append(
                    users.authenticate(session, name, "wrong guess " + address, now, address=address).reason
                )
    finally:
        db.dispose()
    return reasons
