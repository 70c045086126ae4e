"""The mailbox's own copies: deleted once the encrypted copy has been kept long enough.

A handled message is filed in ``Processed``, ``Other`` or ``Quarantine`` as it came:
plaintext, the child's form attached. Left there, the mailbox would become a second,
unencrypted archive beyond the reach of retention and erasure. So each copy is deleted
``retention.mailbox_days`` after the bot stored its encrypted copy, and only when the
database holds that copy (found by the same keyed content hash the pipeline uses): a
message the bot has no record of is never deleted. A held message waits until a person
has decided on it. When a case is erased or purged, the copies of its messages go at
once, whatever their age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from mailbot.app import App
from mailbot.intake.fingerprint import fingerprint_chunks
from mailbot.mail.mailbox import OTHER, PROCESSED, QUARANTINE
from mailbot.store.models import InboundMessage

FOLDERS = (PROCESSED, OTHER, QUARANTINE)


@dataclass
class CopiesReport:
    deleted: int = 0
    kept_unknown: int = 0  # in a folder, but not in the database: left alone


def _content_index(app: App, raw: bytes) -> str:
    return app.vault.index_chunks("content", fingerprint_chunks(raw))


def expire_copies(app: App, now: datetime) -> CopiesReport:
    """Delete the mailbox copies older than ``retention.mailbox_days`` whose encrypted
    copy is committed (and, for held messages, decided)."""
    cutoff = now - timedelta(days=app.settings.retention_mailbox_days)
    report = CopiesReport()
    for folder in FOLDERS:
        for item in app.mailbox.list_folder(folder):
            if item.arrived is not None and item.arrived > cutoff:
                continue  # too recent by the mailbox's own date: not even fetched
            content = _content_index(app, app.mailbox.fetch(item.ref))
            with app.db.session() as session:
                rows = session.execute(
                    select(InboundMessage.received_at, InboundMessage.hold_state).where(
                        InboundMessage.content_index == content
                    )
                ).all()
            if not rows:
                report.kept_unknown += 1
                continue
            if min(r.received_at for r in rows) > cutoff or any(r.hold_state == "pending" for r in rows):
                continue
            app.mailbox.delete(item.ref)
            report.deleted += 1
    return report


def remove_copies(app: App, content_indexes: set[str]) -> int:
    """Delete at once the mailbox copies of messages just destroyed (erasure, purge)."""
    if not content_indexes:
        return 0
    removed = 0
    for folder in FOLDERS:
        for item in app.mailbox.list_folder(folder):
            if _content_index(app, app.mailbox.fetch(item.ref)) in content_indexes:
                app.mailbox.delete(item.ref)
                removed += 1
    return removed
