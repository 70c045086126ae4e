"""The Graph mailbox's delta state, and where it is kept between runs.

``DeltaState`` is what one mailbox folder needs to resume: the ``@odata.deltaLink`` of the
last completed delta round, and the ids then in the folder with their receipt time and
the order Graph reported them in (message ids only: no subject, no address). A
``DeltaStore`` keeps it as text under a short key; ``MemoryDeltaStore`` and
``FileDeltaStore`` are here, the database one (``poll_state``) is
``mailbot.store.poll_delta.DbDeltaStore``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mailbot.errors import MailboxError

log = logging.getLogger(__name__)


class DeltaStore(Protocol):
    """Where the delta state lives between runs (the lead's: the ``poll_state`` table)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


class MemoryDeltaStore:
    """A dict: state lasts as long as the process (tests, ``mailbot check``)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def put(self, key: str, value: str) -> None:
        self.values[key] = value


class FileDeltaStore:
    """One JSON file of ``{key: value}``, replaced atomically, owner-only (0600)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def get(self, key: str) -> str | None:
        value = self._read().get(key)
        return value if isinstance(value, str) else None

    def put(self, key: str, value: str) -> None:
        data = self._read()
        data[key] = value
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".graph-delta-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise MailboxError(f"cannot save the Graph delta state: {exc.strerror}") from exc

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            log.warning("the Graph delta state file is unreadable; starting with a full sync")
            return {}
        return data if isinstance(data, dict) else {}


def delta_key(identity: str, folder: str) -> str:
    """The store key for one mailbox folder: short (``poll_state.name`` is 64 characters)."""
    digest = hashlib.sha256(f"{identity}/{folder}".encode()).hexdigest()[:24]
    return f"graph-delta:{digest}"


@dataclass
class DeltaState:
    """The last completed round's link, and the ids in the folder (receipt time, order seen)."""

    link: str | None = None
    inbox: dict[str, tuple[str, int]] = field(default_factory=dict)
    seen: int = 0

    def dumps(self) -> str:
        return json.dumps(
            {
                "v": 1,
                "link": self.link,
                "seen": self.seen,
                "inbox": {k: [r, n] for k, (r, n) in self.inbox.items()},
            }
        )

    @classmethod
    def loads(cls, text: str | None) -> DeltaState:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            inbox = {str(k): (str(v[0]), int(v[1])) for k, v in data["inbox"].items()}
            link = data.get("link")
            return cls(str(link) if link else None, inbox, int(data.get("seen", len(inbox))))
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("the stored Graph delta state is unreadable; starting with a full sync")
            return cls()

    def order(self) -> list[str]:
        """Ids oldest first: receipt time, then the order Graph reported them in."""
        return sorted(self.inbox, key=lambda k: self.inbox[k])

    def add(self, message_id: str, received: str | None) -> None:
        old = self.inbox.get(message_id)
        if old is None:
            self.seen += 1
            self.inbox[message_id] = (received or "", self.seen)
        elif received:
            self.inbox[message_id] = (received, old[1])
