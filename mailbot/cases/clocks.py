"""A serious incident's two statutory clocks, worked out from the case's dates.

Working Together to Safeguard Children 2023: the local authority notifies the Child
Safeguarding Practice Review Panel within 5 working days of becoming aware of a serious
incident, and the partnership completes a rapid review within 15 working days of that
notification. Both are counted in England's working days (``mailbot.workdays``).

Until the notification is recorded, the rapid review is counted from the day the
notification is due: the latest it may be, so the team sees the latest the review can
be, not a date that moves later while nobody records anything.

Pure: a ``Case``'s dates and today in, ``CaseClock`` values out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from mailbot.store.models import Case
from mailbot.workdays import add_working_days, next_working_day

PANEL_DAYS = 5
REVIEW_DAYS = 15
#: The clocks' names, as ``clock REF NAME DATE`` takes them and JSON shows them.
NAMES = {"panel_notification": "Panel notification", "rapid_review": "Rapid review"}
#: ``clock REF WHAT DATE``: which date of the case each word records.
RECORDS = {
    "aware": "aware_on",
    "panel_notified": "panel_notified_on",
    "rapid_review_sent": "rapid_review_sent_on",
}


@dataclass(frozen=True)
class CaseClock:
    name: str  # panel_notification | rapid_review
    due: date
    done: date | None
    #: ``done``, ``overdue``, ``due_today``, ``due_next`` (by the next working day),
    #: or ``running``.
    state: str

    @property
    def label(self) -> str:
        return NAMES[self.name]

    @property
    def urgent(self) -> bool:
        """Overdue, or due by the next working day: these lead the digest and the queue."""
        return self.state in ("overdue", "due_today", "due_next")

    @property
    def met(self) -> bool | None:
        """Done on or before the due date (None while it runs)."""
        return None if self.done is None else self.done <= self.due

    def words(self) -> str:
        """How the clock reads to a person: 'due 04/01/2027 (overdue)'."""
        if self.done is not None:
            late = "" if self.done <= self.due else ", late"
            return f"done {self.done:%d/%m/%Y} (due {self.due:%d/%m/%Y}{late})"
        state = {
            "overdue": " (overdue)",
            "due_today": " (due today)",
            "due_next": " (due by the next working day)",
            "running": "",
        }[self.state]
        return f"due {self.due:%d/%m/%Y}{state}"

    def as_json(self) -> dict[str, Any]:
        """INTERFACE.md: ``{name, due, done}``."""
        return {
            "name": self.name,
            "due": self.due.isoformat(),
            "done": self.done.isoformat() if self.done else None,
        }


def _state(due: date, done: date | None, today: date) -> str:
    if done is not None:
        return "done"
    if due < today:
        return "overdue"
    if due == today:
        return "due_today"
    if due <= next_working_day(today):
        return "due_next"
    return "running"


def clocks_of(case: Case, today: date) -> list[CaseClock]:
    """The two clocks of a serious incident (none for any other case)."""
    if not case.serious_incident:
        return []
    aware = case.aware_on or today
    panel_due = add_working_days(aware, PANEL_DAYS)
    review_from = case.panel_notified_on or panel_due
    review_due = add_working_days(review_from, REVIEW_DAYS)
    return [
        CaseClock(
            "panel_notification",
            panel_due,
            case.panel_notified_on,
            _state(panel_due, case.panel_notified_on, today),
        ),
        CaseClock(
            "rapid_review",
            review_due,
            case.rapid_review_sent_on,
            _state(review_due, case.rapid_review_sent_on, today),
        ),
    ]


def urgent_clocks(case: Case, today: date) -> list[CaseClock]:
    return [c for c in clocks_of(case, today) if c.urgent]
