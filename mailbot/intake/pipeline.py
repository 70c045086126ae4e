"""One message, from the mailbox to a committed outcome and a filed copy.

The order is what makes a crash harmless: decide, write every row in one transaction
(the message with its idempotency keys, cases, versions, audit, outbox), commit, and
only then move the message out of the inbox. A crash before the commit repeats the
work; a crash after it finds the row and only redoes the move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select, true
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from mailbot.clock import Clock
from mailbot.errors import ConfigError, MailboxAuthError, MailboxConnectionError, MailboxError
from mailbot.forms.model import AttachmentVerdict
from mailbot.intake.actions import ActionContext, apply
from mailbot.intake.attempts import Attempt, Attempts
from mailbot.intake.fingerprint import fingerprint_chunks
from mailbot.intake.handlers import Handler, HandlerContext, Outcome, decide, reads_forms
from mailbot.intake.handlers.base import Held
from mailbot.mail.mailbox import OTHER, PROCESSED, QUARANTINE, Mailbox, MailboxRef
from mailbot.mail.reader import InboundMessage, unreadable
from mailbot.outbound.mail import Outbound
from mailbot.settings import Settings
from mailbot.store.audit import hold_chain
from mailbot.store.db import Database
from mailbot.store.models import InboundMessage as MessageRow
from mailbot.store.sealed_blob import pieces_together, seal_pieces
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


def log_handled(handled: Handled) -> None:
    log.info(
        "message handled",
        extra={
            "message_row": handled.message_row_id,
            "action": handled.action,
            "cases": ",".join(handled.case_refs),
            "duplicate": handled.duplicate,
        },
    )


@dataclass(frozen=True)
class Seen:
    """The row of a message stored before: only its copy is filed again."""

    id: str
    action: str
    target_folder: str


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


class NotMoved(MailboxError):
    """Stored and committed, but the mailbox copy could not be filed (a full disk, a
    folder that cannot be written): the message stays in the inbox, ``poll --once``
    counts it as left, and the next cycle finds its row and only redoes the move."""


@dataclass(frozen=True)
class Stored:
    """A message's outcome in the transaction, and the folder its copy goes to."""

    handled: Handled
    folder: str


class Intake:
    #: Messages handled in one transaction (``mailbot.intake.batch``); 1: one at a time.
    batch_size = 50
    #: A batch closes once its raw mail reaches this size (memory stays bounded).
    batch_bytes = 8 * 1024 * 1024

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
        form_reader: Callable[[InboundMessage], list[AttachmentVerdict]] | None = None,
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
        self.form_reader = form_reader
        self.attempts = Attempts(db, vault, clock)
        #: Attachments read before the batch's transaction (``preread``), by message.
        self._forms: dict[int, list[AttachmentVerdict] | Exception] = {}

    def read(self, raw: bytes) -> InboundMessage:
        """The message as the reader sees it (``App.read_message``: in the sandbox, with
        the sender check the settings ask for)."""
        return self.reader(raw)

    def preread(self, message: InboundMessage) -> None:
        """Read the attachments now, outside any transaction, when the handlers will
        likely want them (``reads_forms``): a batch then holds the database's write lock
        only for database work, never while the sandbox reads a file. A wrong guess
        costs time only: unread ones are read when asked, unwanted ones are dropped."""
        if self.form_reader is None or not reads_forms(message, frozenset({self.settings.mail_from})):
            return
        try:
            self._forms[id(message)] = self.form_reader(message)
        except Exception as exc:  # noqa: BLE001 - raised again where the handler asks
            self._forms[id(message)] = exc

    def forget_forms(self, messages: Iterable[InboundMessage]) -> None:
        """Drop these messages' attachments read ahead, and only theirs: the reader
        thread may be reading the next batch's meanwhile."""
        for message in messages:
            self._forms.pop(id(message), None)

    def context(self, session: Session) -> HandlerContext:
        ctx = self.make_context(session)
        lazy = ctx.read_forms

        def read_forms(message: InboundMessage) -> list[AttachmentVerdict]:
            found = self._forms.get(id(message))
            if found is None:
                return lazy(message)
            if isinstance(found, Exception):
                raise found
            return found

        ctx.read_forms = read_forms
        return ctx

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
        """One message on its own, fetched here (``handle_fetched`` with the bytes)."""
        return self.handle_fetched(ref, self.mailbox.fetch(ref))

    def handle_fetched(self, ref: MailboxRef, raw: bytes) -> Handled | None:
        """Three commits: the attempt, the message's transaction, then (after the move)
        the attempt's end with the row's ``moved`` flag. Raises ``NotMoved`` when the
        copy could not be filed."""
        attempt = self.attempts.begin(ref)  # committed before the message is even read
        try:
            if attempt.number > self.settings.message_max_attempts:
                stored = self._give_up(ref, raw, attempt)
            else:
                stored = self._attempt(ref, raw)
        except BaseException as exc:
            self.attempts.failed(ref, exc)  # its type only; re-raised for the poller
            raise
        if stored is None:
            self.attempts.done(ref)
            return None
        try:
            self.mailbox.move(ref, stored.folder)
        except (MailboxAuthError, MailboxConnectionError) as exc:
            self.attempts.failed(ref, exc)
            raise  # the whole mailbox is unusable: the poll loop's retry deals with it
        except MailboxError as exc:
            self.attempts.failed(ref, exc)
            raise NotMoved(f"message {ref.uid} was stored but could not be filed") from exc
        except BaseException as exc:
            self.attempts.failed(ref, exc)
            raise
        self.attempts.done(ref, moved_row=stored.handled.message_row_id)
        log_handled(stored.handled)
        return stored.handled

    def _attempt(self, ref: MailboxRef, raw: bytes) -> Stored | None:
        message = self.read(raw)
        try:
            self.preread(message)
            with self.db.session() as session:
                self.begin_writes(session)
                return self.store_isolated(session, ref, raw, message)
        finally:
            self.forget_forms([message])

    def begin_writes(self, session: Session) -> None:
        """An intake transaction's first statements, in one order for every worker: the
        master key version (shared; a write on SQLite, so savepoints nest), then the
        audit chain's head (exclusive), before any case or counter row is touched."""
        self.vault.hold_version(session)
        hold_chain(session)

    def store_isolated(
        self, session: Session, ref: MailboxRef, raw: bytes, message: InboundMessage
    ) -> Stored | None:
        """``store`` in a savepoint of the caller's transaction; a message the core
        cannot handle is held for a person in a second one.

        The transaction must have begun with a write (``begin_writes``): on
        SQLite, a savepoint opened outside a transaction starts one of its own, whose
        release would commit it there and then."""
        try:
            with session.begin_nested():
                return self.store(session, ref, raw, message)
        except (OperationalError, ConfigError, MailboxError):
            # The database is unreachable, the key file is not ours, or the mailbox copy
            # moved away under us (another worker filed it): not the message's fault;
            # nothing of it was committed, and the next cycle sees to it.
            raise
        except Exception as exc:  # noqa: BLE001 - a message the core cannot handle (a bug,
            # an input nobody foresaw) is held for a person instead of failing every cycle;
            # only the error's type is kept, as its text may quote the message.
            self._cannot_handle(ref, exc)
            forced = cannot_handle(exc)
        with session.begin_nested():
            return self.store(session, ref, raw, message, forced=forced)

    @staticmethod
    def _cannot_handle(ref: MailboxRef, exc: BaseException) -> None:
        log.error(
            "message could not be handled; holding it",
            extra={"mailbox_uid": ref.uid, "error": type(exc).__name__},
        )

    def _give_up(self, ref: MailboxRef, raw: bytes, attempt: Attempt) -> Stored | None:
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
        with self.db.session() as session:
            self.begin_writes(session)
            return self.store(session, ref, raw, unreadable(raw), forced=held)

    def store(
        self,
        session: Session,
        ref: MailboxRef,
        raw: bytes,
        message: InboundMessage,
        *,
        forced: Outcome | None = None,
    ) -> Stored | None:
        """The message's rows in the caller's transaction; None when another worker has
        it in hand. A message stored before (a repeat after a crash) is only re-filed."""
        mid, content, dedupe = self._keys(raw, message)
        claimed, seen = self._claim(session, ref, dedupe)
        if not claimed:
            log.info("message in hand at another worker", extra={"mailbox_uid": ref.uid})
            return None
        if seen is not None:
            log.info("message seen before", extra={"message_row": seen.id, "action": seen.action})
            return Stored(Handled(seen.action, seen.id, duplicate=True), seen.target_folder)
        with pieces_together(session):
            handled = self._decide_and_store(session, ref, message, mid, content, dedupe, forced)
        return Stored(handled, FOLDER_FOR[handled.action])

    def _claim(self, session: Session, ref: MailboxRef, dedupe: str) -> tuple[bool, Seen | None]:
        """Whether this worker may store the message, and its row if it was stored before.

        On PostgreSQL one worker at a time per message: a transaction advisory lock (held
        until the commit), taken in the same statement as the look for the row, to save a
        round trip a message (issue 18). That statement's snapshot may predate the commit
        of a worker that just let the lock go, so its row can be missed: the unique
        dedupe key then fails this batch's commit, and the batch, stored again a message
        at a time (``storing``), finds the row and only files the copy. SQLite has a
        single writer, so there the unique key alone settles it.
        """
        seen = (
            select(MessageRow.id, MessageRow.action, MessageRow.target_folder)
            .where(or_(MessageRow.dedupe_key == dedupe, MessageRow.mailbox_ref == ref.key))
            .limit(1)
        )
        if self.db.dialect != "postgresql":
            first = session.execute(seen).first()
            return True, (None if first is None else Seen(*first))
        lock = select(func.pg_try_advisory_xact_lock(int(dedupe[:15], 16)).label("claimed")).subquery()
        row = seen.lateral()
        both = session.execute(
            select(lock.c.claimed, row.c.id, row.c.action, row.c.target_folder).select_from(
                lock.outerjoin(row, true())
            )
        ).one()
        found = None if both.id is None else Seen(both.id, both.action, both.target_folder)
        return bool(both.claimed), found

    def _decide_and_store(
        self,
        session: Session,
        ref: MailboxRef,
        message: InboundMessage,
        mid: str | None,
        content: str,
        dedupe: str,
        forced: Outcome | None = None,
    ) -> Handled:
        now = self.clock.now()
        outcome = forced or self.decide(message, self.context(session))
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
        # Flushed with the rows that follow, with no savepoint of its own: the claim keeps
        # other workers away (PostgreSQL), or the single writer does (SQLite). Where the
        # claim's look missed a copy committed a moment before (``_claim``), the unique
        # dedupe key fails the flush: the batch is stored again a message at a time, and
        # a lone message's savepoint is rolled back and it is stored again, found, filed.
        session.add(row)
        # The raw message beside the row, a piece at a time (issue 13: no full-size copy).
        seal_pieces(session, self.vault, row, "raw_enc", message.raw)
        refs = self.apply(session, message, row, outcome, now)
        return Handled(row.action, row.id, refs)
