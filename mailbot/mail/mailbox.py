"""The narrow mailbox interface every backend (Maildir, IMAP, Graph) offers.

The poll loop lives in the poller, not here: a backend only lists, fetches, moves,
deletes (old filed copies) and waits. Moves happen only after the database commit, so
a backend must make ``move`` safe to repeat (moving a message that is already gone is not an error).

The batch calls (``fetch_many``, ``move_many``) are how a backlog clears at the speed of
the bare I/O: IMAP fetches a chunk of messages in one ``UID FETCH`` and moves a set in one
``UID MOVE``. Maildir moves a batch with one fsync per target folder (its own
``move_many``) and fetches one file at a time; Graph loops for both (``OneByOne``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mailbot.errors import MailboxError

#: Folder names of INTERFACE.md; Maildir maps them to ``.Processed`` and so on.
PROCESSED = "Processed"
QUARANTINE = "Quarantine"
OTHER = "Other"
FOLDERS = (PROCESSED, QUARANTINE, OTHER)


@dataclass(frozen=True)
class MailboxRef:
    """Where one message sits: the mailbox identity half of its idempotency keys.

    ``mailbox`` names the account without secrets (``maildir:/abs/path`` or
    ``imap://user@host:port``); ``uidvalidity`` is ``""`` for Maildir.
    """

    mailbox: str
    folder: str
    uidvalidity: str
    uid: str

    @property
    def key(self) -> str:
        return f"{self.mailbox}|{self.folder}|{self.uidvalidity}|{self.uid}"


@dataclass(frozen=True)
class StoredMessage:
    """A message in one of the bot's folders, and when the mailbox says it arrived
    (None when the backend cannot tell: the caller then judges by its own records)."""

    ref: MailboxRef
    arrived: datetime | None


class MessageGone(MailboxError):
    """The message is no longer where its ref says (another worker or a person moved it,
    or the folder was renumbered): nothing is lost, the caller skips it."""


class Mailbox(Protocol):
    """A mailbox the bot reads referrals from."""

    @property
    def identity(self) -> str:
        """The account, without secrets, as stored in ``MailboxRef.mailbox``."""
        ...

    def list_new(self) -> list[MailboxRef]:
        """Messages now in the inbox folder, oldest first."""
        ...

    def fetch(self, ref: MailboxRef) -> bytes:
        """The raw RFC 5322 bytes of one message, unchanged; raises ``MessageGone`` when
        it is no longer there (``OneByOne.fetch_many`` yields None for those)."""
        ...

    def move(self, ref: MailboxRef, folder: str) -> None:
        """Move one message out of the inbox into ``folder``; a no-op if it is gone."""
        ...

    def fetch_many(self, refs: Sequence[MailboxRef]) -> Iterator[tuple[MailboxRef, bytes | None]]:
        """Each ref in order with its raw bytes, or None when it is gone (moved by another
        worker, or renumbered). Lazy: fetched a bounded chunk at a time, as consumed."""
        ...

    def move_many(self, moves: Sequence[tuple[MailboxRef, str]]) -> None:
        """Move each ref to its folder, as ``move`` would: safe to repeat, and refs already
        gone are not errors."""
        ...

    def ensure_folder(self, folder: str) -> None:
        """Create ``folder`` when missing."""
        ...

    def list_folder(self, folder: str) -> list[StoredMessage]:
        """Messages in one of the bot's folders (``Processed``, ``Other``...); [] if none."""
        ...

    def delete(self, ref: MailboxRef) -> None:
        """Remove one message for good (not to a bin); a no-op if it is gone.

        Only for the mailbox copy of a message whose encrypted copy is committed
        (``retention.mailbox_days``): the mailbox must not become a plaintext archive.
        """
        ...

    def append(self, raw: bytes, folder: str | None = None) -> None:
        """Deliver a message (the demo and the tests use this; IMAP does APPEND)."""
        ...

    def wait_for_new(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when new mail may have arrived."""
        ...

    def close(self) -> None:
        """Release connections; the object may not be used afterwards."""
        ...


class OneByOne:
    """``fetch_many`` and ``move_many`` as loops over ``fetch`` and ``move``, for backends
    with no batch form (each round trip is one message anyway)."""

    def fetch(self, ref: MailboxRef) -> bytes:  # pragma: no cover - the backend's own
        raise NotImplementedError

    def move(self, ref: MailboxRef, folder: str) -> None:  # pragma: no cover - the backend's own
        raise NotImplementedError

    def fetch_many(self, refs: Sequence[MailboxRef]) -> Iterator[tuple[MailboxRef, bytes | None]]:
        for ref in refs:
            try:
                yield ref, self.fetch(ref)
            except MessageGone:
                yield ref, None

    def move_many(self, moves: Sequence[tuple[MailboxRef, str]]) -> None:
        for ref, folder in moves:
            self.move(ref, folder)
