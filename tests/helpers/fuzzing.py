"""Shared settings and byte mutations for the property-based (hypothesis) tests.

CI runs a bounded, derandomised number of examples; set ``MAILBOT_FUZZ_EXAMPLES`` (for
example 2000) for a long run that explores freely.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

LONG = "MAILBOT_FUZZ_EXAMPLES" in os.environ


def fuzz_settings(ci_examples: int) -> settings:
    """``ci_examples`` examples in CI (the same ones every run), more on demand."""
    examples = int(os.environ.get("MAILBOT_FUZZ_EXAMPLES", ci_examples))
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not LONG,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


@st.composite
def mutated(draw: st.DrawFn, original: bytes, max_edits: int = 4) -> bytes:
    """``original`` with a few edits: bytes flipped, slices cut, doubled or replaced, or
    the end cut off."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, max_edits))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "cut", "double", "replace", "truncate", "insert"]))
        at = draw(st.integers(0, len(data) - 1))
        size = draw(st.integers(1, 64))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at : at + size]
        elif kind == "double":
            data[at:at] = data[at : at + size] * draw(st.integers(1, 50))
        elif kind == "replace":
            data[at : at + size] = draw(st.binary(min_size=1, max_size=size))
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(
                st.sampled_from(
                    [
                        b"\x00",
                        b"\x1b[2J",
                        b"\r\n",
                        b"<",
                        b"(",
                        b"=?utf-8?q?",
                        b"--",
                        b"PK\x03\x04",
                        b"%PDF-",
                        b"<w:tbl>",
                        b"]]>",
                        b"&#0;",
                        b"\xff\xfe",
                    ]
                )
            )
    return bytes(data)
