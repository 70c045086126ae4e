"""What makes two deliveries of one message the same: its bytes without trace headers.

The fingerprint is the message with its trace headers (``Received``, ``Authentication-
Results``, ...) dropped and its line endings made LF.  It is fed to the keyed hash in
pieces (``fingerprint_chunks``), so a 34 MB message costs the bot no copy of itself:
building it whole cost three (issue 13: the bot's own memory stays under 200 MB).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: Trace headers that differ between two deliveries of the same message.
_TRACE = re.compile(
    rb"^(received|return-path|delivered-to|x-original-to|authentication-results|"
    rb"arc-[a-z-]+|x-ms-exchange-[a-z-]+|x-mailbot-[a-z-]+):",
    re.IGNORECASE,
)
#: The blank line ending the header block, in any mix of CRLF and LF.
_BLANK = re.compile(rb"\r?\n\r?\n")
_CHUNK = 1 << 20


def _kept_head(head: bytes) -> bytes:
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = bool(_TRACE.match(line))
        if not skipping:
            kept.append(line)
    return b"\n".join(kept)


def _lf(raw: bytes, start: int) -> Iterator[bytes]:
    """``raw[start:]`` with CRLF made LF, a megabyte at a time (never split in a CRLF)."""
    end = len(raw)
    while start < end:
        stop = min(start + _CHUNK, end)
        while stop < end and raw[stop - 1] == 0x0D:
            stop += 1
        yield raw[start:stop].replace(b"\r\n", b"\n")
        start = stop


def fingerprint_chunks(raw: bytes) -> Iterator[bytes]:
    """The fingerprint, in pieces whose concatenation is ``content_fingerprint(raw)``."""
    blank = _BLANK.search(raw)
    if blank is None:  # no body: all of it is header
        yield _kept_head(raw.replace(b"\r\n", b"\n"))
        return
    yield _kept_head(raw[: blank.start()].replace(b"\r\n", b"\n"))
    yield b"\n\n"
    yield from _lf(raw, blank.end())


def content_fingerprint(raw: bytes) -> bytes:
    """The whole fingerprint at once (for tests and small messages)."""
    return b"".join(fingerprint_chunks(raw))
