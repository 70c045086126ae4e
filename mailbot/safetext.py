"""Text from mail made safe to store and to show: no control characters, bounded length.

Subjects and file names are shown on terminals (an ESC sequence there can rewrite the
screen) and stored in PostgreSQL, which refuses NUL in text.  Everything a sender
wrote passes through ``clean_line`` (one line: controls become spaces) or
``clean_text`` (a body: line breaks kept) before it leaves the reader; the CLI can use
``escape_controls`` to show a value exactly but harmlessly.
"""

from __future__ import annotations

import re

#: C0 controls, DEL, C1 controls (0x9B is a one-byte CSI on some terminals), and the
#: Unicode line/paragraph separators and bidirectional overrides that reorder a line.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_BODY_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
OCTET_STREAM = "application/octet-stream"


def unsurrogate(value: str) -> str:
    """Undecodable 8-bit bytes (kept by the email parser as lone surrogates, which no
    codec writes) read as UTF-8, with U+FFFD for what is not."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def clean_line(value: str, limit: int | None = None) -> str:
    """One line of text: controls become spaces, runs of space one space, trimmed."""
    if limit is not None and len(value) > limit * 4:
        value = value[: limit * 4]  # bound the work before the regexes run
    text = _SPACES.sub(" ", _CONTROLS.sub(" ", unsurrogate(value))).strip()
    return text[:limit] if limit is not None else text


def clean_text(value: str) -> str:
    """A body of text: CR LF and CR become LF, tabs and LF stay, other controls go."""
    text = unsurrogate(value)
    return _BODY_CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_filename(value: str | None, limit: int = 200) -> str:
    """A file name to show and store: last path component, no controls, bounded."""
    name = clean_line((value or "").replace("\\", "/").rsplit("/", 1)[-1], limit)
    return name or "attachment"


def clean_content_type(value: str | None) -> str:
    """``type/subtype`` in lower case when well formed and short, else octet-stream."""
    text = (value or "").strip().lower()
    return text if _TOKEN.match(text) else OCTET_STREAM


def escape_controls(value: str) -> str:
    """For a terminal: every control character shown as an escape, nothing else changed."""
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)


def escape_lines(text: str) -> str:
    """Text for a terminal: line breaks kept, every other control shown as an escape."""
    return "\n".join(escape_controls(line) for line in text.split("\n"))


#: What ``json.dumps(ensure_ascii=False)`` leaves raw: DEL, C1 controls, separators and
#: bidirectional overrides (C0 controls it escapes itself).
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_escape_controls(dumped: str) -> str:
    """JSON text with those characters written as ``\\uXXXX`` (still the same JSON)."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
