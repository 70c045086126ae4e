"""Structured logs without personal data.

Log lines carry ids, references, actions and counts, never names, addresses, subjects
or form values. ``redact`` is the last line of defence for text that comes from
elsewhere (a library's error message can quote an e-mail address).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_EMAIL = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+")
_DIGITS = re.compile(r"\b\d[\d ]{7,}\d\b")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message"}


def redact(text: str) -> str:
    return _DIGITS.sub("[number]", _EMAIL.sub("[address]", text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool) else redact(str(value))
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is now (it may be swapped, e.g. by a test runner)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except (ValueError, OSError):  # stderr closed at shutdown: nowhere left to log
            pass


def setup_logging(level: str) -> None:
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # SQLAlchemy's engine logger would print statements (and, at DEBUG, rows).
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    logging.getLogger("imapclient").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Document libraries log what they parse at DEBUG: a form's text must never reach a log.
    for name in (
        "pdfminer",
        "pdfplumber",
        "pypdf",
        "PIL",
        "matplotlib",
        "docx",
        "msoffcrypto",
        "waitress",
        "mail.log",
    ):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))
