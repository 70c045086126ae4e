"""The content fingerprint, fed in pieces, is the one the bot always stored (issue 13):
a message delivered again after the upgrade is still recognised."""

from __future__ import annotations

import re

from helpers.bot import EMAILS
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.intake import fingerprint
from mailbot.store import crypto

_TRACE = re.compile(
    rb"^(received|return-path|delivered-to|x-original-to|authentication-results|"
    rb"arc-[a-z-]+|x-ms-exchange-[a-z-]+|x-mailbot-[a-z-]+):",
    re.IGNORECASE,
)


def whole_message_fingerprint(raw: bytes) -> bytes:
    """The definition before issue 13, which built the fingerprint as one value."""
    head, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
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
    return b"\n".join(kept) + sep + body


PIECES = st.lists(
    st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b" ", b"Received: x", b"Subject: y", b"\t"]), max_size=40
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(raw=PIECES, chunk=st.integers(min_value=1, max_value=9))
def test_pieces_join_to_the_old_fingerprint(raw: bytes, chunk: int) -> None:
    fingerprint._CHUNK = chunk  # tiny pieces: every CRLF could fall on a boundary
    try:
        assert fingerprint.content_fingerprint(raw) == whole_message_fingerprint(raw)
    finally:
        fingerprint._CHUNK = 1 << 20


def test_every_sample_message_keeps_its_content_index() -> None:
    key = bytes(32)
    for path in sorted(EMAILS.glob("*.eml")):
        raw = path.read_bytes()
        assert crypto.blind_index_chunks(
            key, "content", fingerprint.fingerprint_chunks(raw)
        ) == crypto.blind_index(key, "content", whole_message_fingerprint(raw)), path.name
