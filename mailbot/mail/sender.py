"""The narrow sender interface, and the file outbox that is the embedded default.

A sender hands one finished message to the next hop: ``send_raw`` takes the bytes the
outbox stored when the reply was queued and sends them as they are (the drainer never
parses them again); ``send`` takes a message object (the SMTP sender's way for a message
with Bcc or non-ASCII addresses, and the tests' checks). It raises
``TemporarySendError`` when a later try may work and ``PermanentSendError`` when it
will not; the outbox drainer in the core decides about retries.
"""

from __future__ import annotations

import os
import re
import tempfile
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Protocol

from mailbot.errors import TemporarySendError
from mailbot.mail.thread_headers import OUTBOUND_POLICY, outbound_bytes


class Sender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand ``message`` over to its recipients (its To header)."""
        ...

    def send_raw(self, raw: bytes) -> None:
        """Hand over a finished message's bytes unchanged (CRLF; recipients: To and Cc)."""
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
        # msg-ids and Thread-Index are never encoded, even in a re-parsed message
        self._write(str(message["Message-ID"] or ""), outbound_bytes(message))

    def send_raw(self, raw: bytes) -> None:
        """The stored bytes, with LF line ends as files on this machine have them."""
        self._write(str(headers_of(raw)["Message-ID"] or ""), raw.replace(b"\r\n", b"\n"))

    def _write(self, message_id: str, raw: bytes) -> None:
        message_id = message_id.strip("<> ")
        if not message_id:
            raise ValueError("an outbound message needs a Message-ID")
        name = _UNSAFE.sub("_", message_id) + ".eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
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


def headers_of(raw: bytes, *, headersonly: bool = True) -> EmailMessage:
    """Stored outbound bytes parsed with the outbound policy: by default the header block
    only (the body is not parsed: envelope, Message-ID, Bcc check, threading); the whole
    message with ``headersonly=False`` (a copy to change and serialise again)."""
    message = BytesParser(policy=OUTBOUND_POLICY).parsebytes(raw, headersonly=headersonly)
    assert isinstance(message, EmailMessage)  # an EmailPolicy makes EmailMessage
    return message


def crlf(raw: bytes) -> bytes:
    """Wire line endings: unchanged when already CRLF (every reply queued since the outbox
    stores the wire form), else each bare LF made CRLF (rows queued before that)."""
    first = raw.find(b"\n")
    return raw if first <= 0 or raw[first - 1 : first] == b"\r" else raw.replace(b"\n", b"\r\n")
