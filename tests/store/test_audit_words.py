"""Every action the code writes to the audit log has plain words for the audit page."""

from __future__ import annotations

import re
from pathlib import Path

from mailbot.store.audit_log import WORDS, words

PACKAGE = Path(__file__).resolve().parents[2] / "mailbot"
#: A literal action code passed to audit(), audit_many() (via Entry) or case_entries().
CALLS = re.compile(r'(?:audit|Entry|case_entries)\([^)]*?"([a-z_]+\.[a-z_]+)"', re.S)


def test_every_action_written_reads_as_words() -> None:
    """Each action in the code is shown as words, never as its code (an action added
    without an entry in WORDS still gets words made from its code)."""
    written = {
        m.group(1) for path in PACKAGE.rglob("*.py") for m in CALLS.finditer(path.read_text(encoding="utf-8"))
    }
    assert {"case.viewed", "sprg.pack_downloaded", "quarantine.viewed"} <= written
    assert [a for a in sorted(written) if "." in words(a) or "_" in words(a)] == []
    reads = {
        "case.viewed",
        "case.listed",
        "message.listed",
        "quarantine.viewed",
        "attachment.split_page_viewed",
        "sprg.pack_downloaded",
        "sprg.agenda_pack",
    }
    assert reads <= set(WORDS)


def test_codes_are_never_shown_bare() -> None:
    assert words("case.viewed") == "viewed the case"
    assert words("sprg.pack_downloaded") == "downloaded the agenda pack"
    assert words("case.clock.aware") == "recorded a date on the case's clock (aware)"
    assert "." not in words("widget.polished")
