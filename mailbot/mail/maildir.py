"""A local Maildir as the bot's mailbox: the embedded default, and the demo's.

Inbox is the Maildir root (``new/`` and ``cur/``); the folders of INTERFACE.md are
Maildir++ sub-folders (``.Processed``, ``.Quarantine``, ``.Other``). A move is one
``os.rename`` of the message file inside the same tree, so it is atomic: a crash leaves
the message either in the inbox or in the folder, never in neither and never in both.

Not thread-safe: give each thread its own ``MaildirMailbox`` (several instances may
share one directory, which is how mail "arrives" in the tests).
"""

from __future__ import annotations

import mailbox
import os
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from mailbot.errors import MailboxError
from mailbot.mail.mailbox import MailboxRef, MessageGone, OneByOne, StoredMessage

#: The folder name refs carry for the Maildir root.
INBOX = "INBOX"

#: How often ``wait_for_new`` looks at the directory: cheap (two ``listdir`` calls).
POLL_INTERVAL = 0.2

_SUBDIRS = ("new", "cur")
_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]*$")
# Delivery agents name files "<seconds>.<unique>"; stdlib and Dovecot put "M<usec>" in
# the unique part and stdlib adds "Q<counter>", which orders two deliveries in one tick.
_SECONDS = re.compile(r"^(\d+)\.")
_MICROS = re.compile(r"M(\d+)")
_COUNTER = re.compile(r"Q(\d+)")


class MaildirMailbox(OneByOne):
    """The ``Mailbox`` protocol over a Maildir (``maildir:PATH``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).absolute()
        try:
            # mailbox.Maildir(create=True) skips an existing but empty directory (a
            # fresh mkdir, a volume mount), so make the three sub-directories here.
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            self._md = mailbox.Maildir(self.path, factory=None, create=True)
        except OSError as exc:
            raise MailboxError(f"cannot open the Maildir: {exc.strerror}") from exc
        # Keys handed out by the last list_new; None until the first call, so that a
        # fresh object treats every message already waiting as new.
        self._listed: set[str] | None = None
        self._paths: dict[str, Path] = {}  # inbox key -> file, from the last list_new
        self._made: set[str] = set()  # folders known to exist (one a person deletes: _rename remakes it)

    @property
    def identity(self) -> str:
        return f"maildir:{self.path}"

    def list_new(self) -> list[MailboxRef]:
        """Messages in the inbox, oldest delivery first."""
        entries = _scan(self.path)
        self._listed = set(entries)
        self._paths = entries  # key -> file, so fetch and move need not list again
        ordered = sorted(entries.items(), key=lambda item: _delivery_order(*item))
        return [MailboxRef(self.identity, INBOX, "", key) for key, _ in ordered]

    def fetch(self, ref: MailboxRef) -> bytes:
        """The file's bytes as delivered (no line-ending conversion on POSIX)."""
        for path in self._where(ref):
            try:
                return path.read_bytes()
            except FileNotFoundError:
                continue  # moved (or renamed new/ -> cur/) since it was listed: look again
            except OSError as exc:
                raise MailboxError(f"cannot read message {ref.uid}: {exc.strerror}") from exc
        raise MessageGone(f"message {ref.uid} is not in folder {ref.folder}")

    def move(self, ref: MailboxRef, folder: str) -> None:
        """Rename the file into ``folder``; a message already gone is left alone."""
        self.move_many([(ref, folder)])

    def move_many(self, moves: Sequence[tuple[MailboxRef, str]]) -> None:
        """Rename each file into its folder, then make the renames durable: one fsync per
        target directory for the whole batch, before returning (a crash before it can
        only leave a message in the inbox, to be handled again: never lost, never doubled,
        as the rename is atomic)."""
        touched: set[Path] = set()
        for ref, folder in moves:
            self._check_ref(ref)
            target_dir = self._folder_dir(folder)
            self.ensure_folder(folder)
            for source in self._where(ref):
                target = target_dir / source.parent.name / source.name
                if self._rename(source, target, folder):
                    touched.add(target.parent)
                    break  # else moved since it was listed: look again (a miss: it is gone)
            if ref.folder == INBOX:
                self._paths.pop(ref.uid, None)
        for directory in sorted(touched):
            _fsync_dir(directory)

    def ensure_folder(self, folder: str) -> None:
        """Create the Maildir++ sub-folder (``.NAME`` with its marker file)."""
        if folder == INBOX or folder in self._made:
            return
        _check_folder_name(folder)
        try:
            try:
                self._md.add_folder(folder)
            except FileExistsError:
                # Another worker is creating the same folder at this moment (the
                # standard library's Maildir makes it in several steps): finish it.
                target = self._folder_dir(folder)
                for sub in ("tmp", "new", "cur"):
                    (target / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
                (target / "maildirfolder").touch(exist_ok=True)
        except OSError as exc:
            raise MailboxError(f"cannot create folder {folder}: {exc.strerror}") from exc
        self._made.add(folder)

    def list_folder(self, folder: str) -> list[StoredMessage]:
        """The folder's messages; arrival from the file's modification time (a rename
        into the folder keeps it, so it is the delivery time)."""
        found = []
        for key, path in sorted(_scan(self._folder_dir(folder)).items()):
            try:
                arrived: datetime | None = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except OSError:
                arrived = None
            found.append(StoredMessage(MailboxRef(self.identity, folder, "", key), arrived))
        return found

    def delete(self, ref: MailboxRef) -> None:
        """Unlink the file (and make that durable); gone already is fine."""
        self._check_ref(ref)
        path = self._find(self._folder_dir(ref.folder), ref.uid)
        if path is None:
            return
        try:
            path.unlink()
            _fsync_dir(path.parent)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise MailboxError(f"cannot delete message {ref.uid}: {exc.strerror}") from exc

    def append(self, raw: bytes, folder: str | None = None) -> None:
        """Deliver through ``tmp/`` then ``new/``, as any delivery agent would."""
        target = self._md
        if folder is not None and folder != INBOX:
            self.ensure_folder(folder)
            target = self._md.get_folder(folder)
        try:
            target.add(raw)
        except OSError as exc:
            raise MailboxError(f"cannot deliver into the Maildir: {exc.strerror}") from exc

    def wait_for_new(self, timeout: float) -> bool:
        """Poll the inbox until it holds a message the last ``list_new`` did not return.

        Comparing with the last listing (not with the moment of the call) means mail
        that arrived between ``list_new`` and this call is noticed at once, not lost
        until the next delivery.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if self._has_unlisted():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(POLL_INTERVAL, remaining))

    def close(self) -> None:
        self._md.close()

    # -- helpers -----------------------------------------------------------------

    def _has_unlisted(self) -> bool:
        keys = _scan(self.path).keys()
        if self._listed is None:
            return bool(keys)
        return not keys <= self._listed

    def _folder_dir(self, folder: str) -> Path:
        if folder == INBOX:
            return self.path
        _check_folder_name(folder)
        return self.path / f".{folder}"

    def _find(self, folder_dir: Path, key: str) -> Path | None:
        return _scan(folder_dir).get(key)

    def _rename(self, source: Path, target: Path, folder: str) -> bool:
        """One atomic rename; False when the source is gone. A target folder that a
        person removed while the bot ran is made again rather than taken for a gone message."""
        for attempt in (1, 2):
            try:
                os.rename(source, target)
                return True
            except FileNotFoundError as exc:
                if not source.exists():
                    return False
                if attempt == 2:
                    raise MailboxError(f"cannot move message {source.name}: {exc.strerror}") from exc
                self._made.discard(folder)
                self.ensure_folder(folder)
            except OSError as exc:
                raise MailboxError(f"cannot move message {source.name}: {exc.strerror}") from exc
        return False  # pragma: no cover - the loop returns or raises

    def _where(self, ref: MailboxRef) -> Iterator[Path]:
        """Where the message may be: the file the last listing saw, then (only when that
        one is missing or was never listed) what a fresh look at the folder finds."""
        folder_dir = self._folder_dir(ref.folder)
        known = self._paths.get(ref.uid) if ref.folder == INBOX else None
        if known is not None:
            yield known
        found = self._find(folder_dir, ref.uid)
        if found is not None and found != known:
            yield found

    def _check_ref(self, ref: MailboxRef) -> None:
        if ref.mailbox != self.identity:
            raise MailboxError("the message reference belongs to another mailbox")


def _scan(folder_dir: Path) -> dict[str, Path]:
    """Map Maildir keys to files in ``new/`` and ``cur/`` (dot files are not mail)."""
    found: dict[str, Path] = {}
    for sub in _SUBDIRS:
        try:
            names = os.listdir(folder_dir / sub)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise MailboxError(f"cannot list the Maildir: {exc.strerror}") from exc
        for name in names:
            if not name.startswith("."):
                found[name.split(":", 1)[0]] = folder_dir / sub / name
    return found


def _delivery_order(key: str, path: Path) -> tuple[float, int, str]:
    """Sort key: delivery time from the file name when it has one, else its mtime."""
    seconds = _SECONDS.match(key)
    if seconds:
        micros = _MICROS.search(key)
        when = int(seconds.group(1)) + (int(micros.group(1)) / 1e6 if micros else 0.0)
    else:
        try:
            when = path.stat().st_mtime
        except OSError:
            when = 0.0
    counter = _COUNTER.search(key)
    return (when, int(counter.group(1)) if counter else 0, key)


def _check_folder_name(folder: str) -> None:
    if not _FOLDER_NAME.match(folder):
        raise MailboxError("a Maildir folder name is letters, digits, spaces, _ and -")


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable: on POSIX the directory entry is what must reach disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
