"""Property-based fuzzing of the message reader (issue 13): mutated public e-mails.

Whatever the bytes, ``read_message`` returns a reading (never raises), quickly, and
what it returns is safe: no control characters in the subject or file names, content
types that fit their column, at most ten ids and ten case tags.
"""

from __future__ import annotations

import time

import pytest
from helpers import hostile
from helpers.fuzzing import fuzz_settings, mutated
from hypothesis import given
from hypothesis import strategies as st

from mailbot.mail.reader import MAX_CASE_TAGS, MAX_IDS, MAX_REFERENCES, InboundMessage, read_message
from mailbot.safetext import escape_controls

#: A failing example's repr can be large; the failure, not that warning, is the news.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
EMAILS = {p.stem: p.read_bytes() for p in sorted(hostile.EMAILS.glob("*.eml"))}
NAMES = sorted(EMAILS)


def safe(message: InboundMessage, seconds: float) -> None:
    assert seconds < 3
    assert escape_controls(message.subject) == message.subject
    assert len(message.content_type) <= 128
    assert len(message.references) <= MAX_REFERENCES and len(message.in_reply_to) <= MAX_IDS
    assert len(message.case_tags) <= MAX_CASE_TAGS
    for values in message.headers.values():
        assert all("\x00" not in v and escape_controls(v) == v for v in values)
    for attachment in message.attachments:
        assert escape_controls(attachment.filename) == attachment.filename
        assert len(attachment.content_type) <= 128
    assert "\x00" not in message.text
    message.text.encode("utf-8")  # storable: no lone surrogates
    message.subject.encode("utf-8")


def timed(raw: bytes) -> tuple[InboundMessage, float]:
    start = time.perf_counter()
    message = read_message(raw)
    return message, time.perf_counter() - start


@fuzz_settings(60)
@given(st.sampled_from(NAMES).flatmap(lambda name: mutated(EMAILS[name], max_edits=6)))
def test_mutated_messages(raw: bytes) -> None:
    safe(*timed(raw))


_HEADER_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@fuzz_settings(60)
@given(
    st.sampled_from(NAMES),
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Subject",
                    "From",
                    "Message-ID",
                    "References",
                    "In-Reply-To",
                    "Content-Type",
                    "Auto-Submitted",
                    "Content-Disposition",
                    "Date",
                    "X-Other",
                ]
            ),
            _HEADER_TEXT,
            st.integers(1, 400),
        ),
        max_size=6,
    ),
)
def test_hostile_header_values(name: str, headers: list[tuple[str, str, int]]) -> None:
    raw = EMAILS[name]
    extra = b"".join(
        f"{field}: ".encode() + value.encode("utf-8") * repeat + b"\r\n" for field, value, repeat in headers
    )
    safe(*timed(extra + raw))
