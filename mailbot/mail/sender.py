"""The narrow sender interface, and the file outbox that is the embedded default.

A sender hands one finished message to the next hop. It raises
``TemporarySendError`` when a later try may work and ``PermanentSendError`` when it
will not; the outbox drainer in the core decides about retries.
"""

from __future__ import annotations

import os
import re
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from mailbot.errors import TemporarySendError
from mailbot.mail.thread_headers import outbound_bytes


class Sender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand ``message`` over to its recipients (its To header)."""
        ...

    def close(self) -> None: ...


_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


class OutboxFolderSender:
    """Writes each message as one ``.eml`` file in a folder (``outbox:PATH``).

    The file is named after the Message-ID, so sending the same message twice (a
    resend after a crash) overwrites the same file instead of adding a second one.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        message_id = str(message["Message-ID"] or "").strip("<> ")
        if not message_id:
            raise ValueError("an outbound message needs a Message-ID")
        name = _UNSAFE.sub("_", message_id) + ".eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                # msg-ids and Thread-Index are never encoded, even in a re-parsed message
                handle.write(outbound_bytes(message))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            raise TemporarySendError(f"cannot write to the outbox folder: {exc.strerror}") from exc

    def verify(self) -> None:
        """The folder exists (or can be made) and takes files."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".check-"):
                pass
        except OSError as exc:
            raise TemporarySendError(f"cannot write to the outbox folder: {exc.strerror}") from exc

    def close(self) -> None:
        return None
