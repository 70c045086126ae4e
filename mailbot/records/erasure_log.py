"""The erasure log: every destroyed case, kept apart from the database.

A backup taken before an erasure still holds the erased case's rows (its data key
wrapped, readable with the master key). Restoring that backup must not bring the case
back, so each shred is appended here *before* its transaction commits, and ``restore``
replays the whole log. An entry names only the reference, the case id, the reason and
the time: the log itself holds no personal data. It lives beside the database in
``var/`` and is backed up with it, but as its own file, so restoring a database never
replaces it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailbot.errors import MailbotError

NAME = "erasure-log.jsonl"


@dataclass(frozen=True)
class Erasure:
    case_id: str
    ref: str
    reason: str  # retention | erasure
    at: datetime


class ErasureLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, entries: list[Erasure]) -> None:
        """Append and fsync: once this returns, a restore will shred these cases."""
        if not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps({"case_id": e.case_id, "ref": e.ref, "reason": e.reason, "at": e.at.isoformat()})
            + "\n"
            for e in entries
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> list[Erasure]:
        if not self.path.exists():
            return []
        found = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                found.append(
                    Erasure(data["case_id"], data["ref"], data["reason"], datetime.fromisoformat(data["at"]))
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise MailbotError(f"{self.path}: line {number} is not an erasure entry") from exc
        return found
