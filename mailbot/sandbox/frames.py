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


def read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    left = size
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not poller.poll(wait * 1000):
                raise Timeout
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise Closed
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, limit: int, deadline: float | None = None) -> bytes:
    (size,) = FRAME.unpack(read_exact(fd, FRAME.size, deadline))
    if size > limit:
        raise Closed  # a child that says more than it may is treated as broken
    return read_exact(fd, size, deadline)
