"""The form's outcome section as data: pure functions, no store, no mail.

A decision is ``{"outcome": {...}, "sprg": {...}}`` with exactly the keys of FIELDS.md,
so a decision typed on the command line and one read from an emailed form are the same
value and are stored the same way.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from mailbot.forms.model import Referral

#: How the reason of a held emailed decision starts: the workspace and the command line
#: offer to confirm it (releasing it records the decision and tells the referrer).
HELD_DECISION = "emailed SPRG decision"

#: The form's outcome section and SPRG box (FIELDS.md's ``outcome`` and ``sprg``).
DecisionRecord = dict[str, Any]

#: (command-line option, dotted key in the decision) in the form's order.
OPTIONS: tuple[tuple[str, str], ...] = (
    ("single", "outcome.single_agency.decision"),
    ("single_agencies", "outcome.single_agency.agencies"),
    ("single_grounds", "outcome.single_agency.grounds"),
    ("multi", "outcome.multi_agency.decision"),
    ("multi_agencies", "outcome.multi_agency.agencies"),
    ("multi_grounds", "outcome.multi_agency.grounds"),
    ("methodology", "outcome.methodology"),
    ("final_report_date", "outcome.final_report_date"),
    ("other_actions", "outcome.other_actions"),
    ("meeting_date", "sprg.meeting_date"),
    ("chair", "sprg.chair"),
)


def empty_decision() -> DecisionRecord:
    part = {"decision": None, "agencies": None, "grounds": None}
    return {
        "outcome": {
            "single_agency": dict(part),
            "multi_agency": dict(part),
            "methodology": None,
            "final_report_date": None,
            "other_actions": None,
        },
        "sprg": {"meeting_date": None, "chair": None},
    }


def get(decision: DecisionRecord, dotted: str) -> Any:
    node: Any = decision
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def put(decision: DecisionRecord, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = decision
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def decision_of(referral: Referral) -> DecisionRecord | None:
    """The outcome section of a referral record, or None when nothing in it is filled in.

    Only the outcome rows count: the two SPRG lines alone (a date, a chair) are not a
    decision.
    """
    decision = empty_decision()
    for _option, key in OPTIONS:
        put(decision, key, copy.deepcopy(get(referral, key)))
    if not any(_filled(get(decision, key)) for _o, key in OPTIONS if key.startswith("outcome.")):
        return None
    return decision


def merged(base: DecisionRecord | None, changes: DecisionRecord) -> DecisionRecord:
    """``base`` (or an empty decision) with every key given in ``changes`` (dotted) set."""
    result = copy.deepcopy(base) if base else empty_decision()
    for key, value in changes.items():
        put(result, key, value)
    return result


def yes_no(value: str | None) -> str:
    return {"Y": "Yes", "N": "No"}.get((value or "").upper(), "not recorded")


def meeting_of(decision: DecisionRecord, scheduled: date | None) -> date | None:
    """The meeting a decision is about: its own "Date of SPRG Meeting", else the meeting
    the case is scheduled to (None when neither is known)."""
    value = get(decision, "sprg.meeting_date")
    try:
        return date.fromisoformat(value) if isinstance(value, str) and value else scheduled
    except ValueError:
        return scheduled


def meeting_not_yet_held(decision: DecisionRecord, scheduled: date | None, today: date) -> date | None:
    """The meeting's date when it is still to come (today counts as held), else None.

    A decision notice, an emailed outcome or a final-report reminder must never reach
    anyone before the meeting that makes the decision.
    """
    day = meeting_of(decision, scheduled)
    return day if day is not None and day > today else None
