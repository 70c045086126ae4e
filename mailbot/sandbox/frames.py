"""The wire between the bot and its sandbox child: length-prefixed frames on pipes.

A frame is an 8-byte big-endian length and that many bytes: JSON for requests and
answers, raw bytes for message and attachment data (never pickled, so a subverted child
cannot run code in the bot).  Reads are bounded in size and, on the bot's side, by a
deadline.
"""

from __future__ import annotations

import os
import select
import struct
import time
from typing import cast

FRAME = struct.Struct(">Q")
#: Largest JSON answer accepted from a child (a verdict list with parsed forms).
MAX_JSON = 16 * 1024 * 1024


class Timeout(Exception):
    """The deadline passed before the frame arrived."""


class Closed(Exception):
    """The other side closed the pipe, or announced more than it may send."""


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[: 1 << 20])
        view = view[written:]


def send(fd: int, payload: bytes | memoryview) -> None:
    write_all(fd, FRAME.pack(len(payload)))
    write_all(fd, payload)


def read_exact(fd: int, size: int, deadline: float | None, *, in_place: bool = False) -> bytes:
    """``size`` bytes from the pipe.  ``in_place`` reads them straight into one buffer
    (a bytearray, which the bot treats as bytes) instead of joining chunks: a 25 MB
    attachment is then in memory once, not twice (issue 13: the bot under 200 MB)."""
    buffer = bytearray(size) if in_place else None
    view = memoryview(buffer) if buffer is not None else None
    chunks: list[bytes] = []
    got = 0
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while got < size:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not poller.poll(wait * 1000):
                raise Timeout
        if view is not None:
            count = os.readv(fd, [view[got : got + (1 << 20)]])
        else:
            chunk = os.read(fd, min(size - got, 1 << 20))
            chunks.append(chunk)
            count = len(chunk)
        if not count:
            raise Closed
        got += count
    if buffer is not None:
        return cast(bytes, buffer)
    return b"".join(chunks)


def receive(fd: int, limit: int, deadline: float | None = None, *, in_place: bool = False) -> bytes:
    (size,) = FRAME.unpack(read_exact(fd, FRAME.size, deadline))
    if size > limit:
        raise Closed  # a child that says more than it may is treated as broken
    return read_exact(fd, size, deadline, in_place=in_place)
