"""A case's status: the one table of what each status is called and what it allows.

The CLI, the workspace, the team's digest and the alerts all read their words from
here, so a status added (or renamed) is changed in this file and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class _About:
    #: What people see in lists, tables and filters ("on an agenda").
    label: str
    #: How the status reads after "which is already ..." in a sentence to the team.
    phrase: str
    #: A referrer's new form still changes the referral (later statuses belong to the
    #: team and the SPRG).
    open_to_referrer: bool
    #: Still in the team's queue (everything but closed).
    active: bool = True


class CaseStatus(StrEnum):
    """The case's life (INTERFACE.md): values are stored and shown in JSON as they are."""

    AWAITING_INFORMATION = "awaiting_information"
    MANUAL_ENTRY = "manual_entry"
    READY = "ready"
    SCHEDULED = "scheduled"
    HELD = "held"
    DECIDED = "decided"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return _TABLE[self].label

    @property
    def heading(self) -> str:
        """The label at the start of a line or in a heading ("On an agenda")."""
        words = _TABLE[self].label
        return words[:1].upper() + words[1:]

    @property
    def phrase(self) -> str:
        return _TABLE[self].phrase

    @property
    def open_to_referrer(self) -> bool:
        return _TABLE[self].open_to_referrer

    @property
    def active(self) -> bool:
        return _TABLE[self].active

    @classmethod
    def parse(cls, text: str) -> CaseStatus:
        """A status from its code or from the words people see ("on an agenda")."""
        wanted = " ".join(text.replace("_", " ").split()).lower()
        for status in cls:
            if wanted in (status.value.replace("_", " "), status.label):
                return status
        raise ValueError(text)


_TABLE: dict[CaseStatus, _About] = {
    CaseStatus.AWAITING_INFORMATION: _About(
        "waiting for referrer", "waiting for the referrer", open_to_referrer=True
    ),
    CaseStatus.MANUAL_ENTRY: _About(
        "to enter by hand", "waiting to be entered by hand", open_to_referrer=True
    ),
    CaseStatus.READY: _About("ready to schedule", "ready to schedule", open_to_referrer=True),
    CaseStatus.SCHEDULED: _About("on an agenda", "on an SPRG agenda", open_to_referrer=False),
    CaseStatus.HELD: _About("held back", "held back from the agenda", open_to_referrer=False),
    CaseStatus.DECIDED: _About("decided", "decided by the SPRG", open_to_referrer=False),
    CaseStatus.CLOSED: _About("closed", "closed", open_to_referrer=False, active=False),
}

#: Statuses in which a referrer's new form still changes the referral.
OPEN_TO_REFERRER = frozenset(s for s in CaseStatus if s.open_to_referrer)
#: Statuses still in the team's queue.
ACTIVE = tuple(s for s in CaseStatus if s.active)


def label(status: str) -> str:
    """The words for a stored status (a value the enum does not know reads as itself)."""
    try:
        return CaseStatus(status).label
    except ValueError:
        return status
