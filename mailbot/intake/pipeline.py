"""One message, from the mailbox to a committed outcome and a filed copy.

The order is what makes a crash harmless: decide, write every row in one transaction
(the message with its idempotency keys, cases, versions, audit, outbox), commit, and
only then move the message out of the inbox. A crash before the commit repeats the
work; a crash after it finds the row and only redoes the move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from mailbot.clock import Clock
from mailbot.errors import ConfigError, MailboxError
from mailbot.intake.actions import ActionContext, apply
from mailbot.intake.attempts import Attempt, Attempts
from mailbot.intake.fingerprint import fingerprint_chunks
from mailbot.intake.handlers import Handler, HandlerContext, Outcome, decide
from mailbot.intake.handlers.base import Held
from mailbot.mail.mailbox import OTHER, PROCESSED, QUARANTINE, Mailbox, MailboxRef
from mailbot.mail.reader import InboundMessage, unreadable
from mailbot.outbound.mail import Outbound
from mailbot.settings import Settings
from mailbot.store.db import Database
from mailbot.store.models import InboundMessage as MessageRow
from mailbot.store.sealed_blob import seal_pieces
from mailbot.store.vault import Vault

log = logging.getLogger(__name__)

FOLDER_FOR = {
    "accept": PROCESSED,
    "request_missing": PROCESSED,
    "merge_followup": PROCESSED,
    "ignore_auto": PROCESSED,
    "reject_attachment": PROCESSED,
    "manual_entry": PROCESSED,
    "quarantine": QUARANTINE,
    "not_referral": OTHER,
}


@dataclass
class Handled:
    action: str
    message_row_id: str
    case_refs: list[str] = field(default_factory=list)
    duplicate: bool = False


def cannot_handle(error: BaseException) -> Held:
    """The outcome for a message the core failed on: held, with the error's type only
    (its text may quote the message)."""
    return Held(
        action="quarantine",
        reason=f"could not be handled automatically ({type(error).__name__}); held for a person",
        alert="A message could not be handled automatically, so it has not been "
        "answered. It is under Held messages for you to read.",
    )


class Intake:
    def __init__(
        self,
        *,
        db: Database,
        vault: Vault,
        mailbox: Mailbox,
        clock: Clock,
        settings: Settings,
        outbound: Outbound,
        handlers: Sequence[Handler],
        make_context: Callable[[Session], HandlerContext],
        reader: Callable[[bytes], InboundMessage],
    ) -> None:
        self.db = db
        self.vault = vault
        self.mailbox = mailbox
        self.clock = clock
        self.settings = settings
        self.outbound = outbound
        self.handlers = tuple(handlers)
        self.make_context = make_context
        self.reader = reader
        self.attempts = Attempts(db, vault, clock)

    def read(self, raw: bytes) -> InboundMessage:
        """The message as the reader sees it (``App.read_message``: in the sandbox, with
        the sender check the settings ask for)."""
        return self.reader(raw)

    def decide(self, message: InboundMessage, context: HandlerContext) -> Outcome:
        return decide(self.handlers, message, context)

    def apply(
        self, session: Session, message: InboundMessage, row: MessageRow, outcome: Outcome, now: datetime
    ) -> list[str]:
        return apply(
            ActionContext(
                session=session,
                vault=self.vault,
                outbound=self.outbound,
                settings=self.settings,
                now=now,
                message=message,
                row=row,
            ),
            outcome,
        )

    def ensure_folders(self) -> None:
        for folder in (PROCESSED, QUARANTINE, OTHER):
            self.mailbox.ensure_folder(folder)

    def _keys(self, raw: bytes, message: InboundMessage) -> tuple[str | None, str, str]:
        content = self.vault.index_chunks("content", fingerprint_chunks(raw))
        mid = self.vault.index("message-id", message.message_id) if message.message_id else None
        dedupe = self.vault.index("dedupe", f"{mid or '-'}|{content}")
        return mid, content, dedupe

    def handle(self, ref: MailboxRef) -> Handled | None:
        raw = self.mailbox.fetch(ref)
        attempt = self.attempts.begin(ref)  # committed before the message is even read
        try:
            if attempt.number > self.settings.message_max_attempts:
                handled = self._give_up(ref, raw, attempt)
            else:
                handled = self._attempt(ref, raw)
        except BaseException as exc:
            self.attempts.failed(ref, exc)  # its type only; re-raised for the poller
            raise
        self.attempts.done(ref)
        return handled

    def _attempt(self, ref: MailboxRef, raw: bytes) -> Handled | None:
        message = self.read(raw)
        try:
            return self._handle(ref, raw, message)
        except (OperationalError, ConfigError, MailboxError):
            # The database is unreachable, the key file is not ours, or the mailbox copy
            # moved away under us (another worker filed it): not the message's fault;
            # nothing of it was committed, and the next cycle sees to it.
            raise
        except Exception as exc:  # noqa: BLE001 - a message the core cannot handle (a bug,
            # an input nobody foresaw) is held for a person instead of failing every cycle;
            # only the error's type is kept, as its text may quote the message.
            log.error(
                "message could not be handled; holding it",
                extra={"mailbox_uid": ref.uid, "error": type(exc).__name__},
            )
            return self._handle(ref, raw, message, forced=cannot_handle(exc))

    def _give_up(self, ref: MailboxRef, raw: bytes, attempt: Attempt) -> Handled | None:
        """A poison message: held unread, with the last error's type, so that it can
        never again stop the messages behind it."""
        tries = attempt.number - 1
        log.error(
            "message failed every attempt; holding it",
            extra={"mailbox_uid": ref.uid, "attempts": tries, "error": attempt.last_error},
        )
        held = Held(
            action="quarantine",
            reason=f"could not be handled after {tries} attempts (last: "
            f"{attempt.last_error}); held for a person",
            alert=f"A message could not be handled after {tries} attempts, so it has "
            "not been answered and was set aside so that the messages behind "
            "it could be handled. It is under Held messages for you to read.",
        )
        return self._handle(ref, raw, unreadable(raw), forced=held)

    def _handle(
        self, ref: MailboxRef, raw: bytes, message: InboundMessage, *, forced: Outcome | None = None
    ) -> Handled | None:
        mid, content, dedupe = self._keys(raw, message)
        with self.db.session() as session:
            if not self._claim(session, dedupe):
                log.info("message in hand at another worker", extra={"mailbox_uid": ref.uid})
                return None
            seen = session.scalars(
                select(MessageRow).where(
                    or_(MessageRow.dedupe_key == dedupe, MessageRow.mailbox_ref == ref.key)
                )
            ).first()
            if seen is not None:
                again = Handled(seen.action, seen.id, duplicate=True)
                folder = seen.target_folder
            else:
                fresh = self._decide_and_store(session, ref, message, mid, content, dedupe, forced)
                if fresh is None:
                    return None
                handled: Handled = fresh
        if seen is not None:
            log.info(
                "message seen before", extra={"message_row": again.message_row_id, "action": again.action}
            )
            self.mailbox.move(ref, folder)
            return again
        self.mailbox.move(ref, FOLDER_FOR[handled.action])
        with self.db.session() as session:
            session.execute(
                update(MessageRow).where(MessageRow.id == handled.message_row_id).values(moved=True)
            )
        log.info(
            "message handled",
            extra={
                "message_row": handled.message_row_id,
                "action": handled.action,
                "cases": ",".join(handled.case_refs),
            },
        )
        return handled

    def _claim(self, session: Session, dedupe: str) -> bool:
        """On PostgreSQL, one worker at a time per message (held until the commit).

        SQLite has a single writer, so there the unique key alone settles it.
        """
        if self.db.dialect != "postgresql":
            return True
        lock_id = int(dedupe[:15], 16)
        return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_id}).scalar())

    def _decide_and_store(
        self,
        session: Session,
        ref: MailboxRef,
        message: InboundMessage,
        mid: str | None,
        content: str,
        dedupe: str,
        forced: Outcome | None = None,
    ) -> Handled | None:
        now = self.clock.now()
        outcome = forced or self.decide(message, self.make_context(session))
        row = MessageRow(
            dedupe_key=dedupe,
            message_id_index=mid,
            content_index=content,
            mailbox_ref=ref.key,
            received_at=now,
            sent_at=message.date,
            action=outcome.action,
            reason=outcome.reason,
            target_folder=FOLDER_FOR[outcome.action],
            moved=False,
            hold_state="pending" if outcome.action == "quarantine" else None,
            linked_case_id=outcome.case.id if outcome.case else None,
        )
        row.key_id = self.vault.new_key(session)
        row.sender_enc = self.vault.seal_text(session, row, "sender_enc", message.sender or "")
        row.subject_enc = self.vault.seal_text(session, row, "subject_enc", message.subject)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            # Another worker stored the same message a moment ago: it owns the outcome.
            log.info("message claimed by another worker", extra={"mailbox_uid": ref.uid})
            return None
        # The raw message beside the row, a piece at a time (issue 13: no full-size copy).
        seal_pieces(session, self.vault, row, "raw_enc", message.raw)
        refs = self.apply(session, message, row, outcome, now)
        return Handled(row.action, row.id, refs)
