"""The year's figures for the partnership's annual report: counts, never people.

Everything here is about organisations, themes, dates and counts: referrals received by
referring agency and month, SPRG decisions (single-agency, multi-agency, none), themes,
the time from referral to decision in working days (median and 90th percentile),
serious-incident clocks met and missed, and actions open, done and overdue by agency.
Referrals are read (decrypted) only to take the referring agency and the themes; a case
whose personal data was destroyed counts from its tombstone.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.cases.clocks import NAMES, clocks_of
from mailbot.clock import london
from mailbot.forms.record import get_path
from mailbot.sprg.actions import is_overdue
from mailbot.sprg.decision_form import get
from mailbot.store.models import ActionItem, Case, Decision
from mailbot.store.vault import Vault
from mailbot.workdays import working_days_between

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NOT_GIVEN = "Not given"
DECISIONS = ("Single-agency Learning Inquiry", "Multi-agency Learning Inquiry", "No Learning Inquiry")
ACTION_STATES = ("open", "overdue", "done", "carried forward")


@dataclass
class YearFigures:
    year: int
    made_on: date
    #: agency -> twelve monthly counts.
    referrals: dict[str, list[int]] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DECISIONS, 0))
    themes: list[tuple[str, int]] = field(default_factory=list)
    #: Working days from each referral to its first decision.
    to_decision: list[int] = field(default_factory=list)
    #: clock label -> {"met": n, "missed": n, "running": n}.
    clocks: dict[str, dict[str, int]] = field(default_factory=dict)
    #: agency -> {state: n} for ACTION_STATES.
    actions: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total_referrals(self) -> int:
        return sum(sum(months) for months in self.referrals.values())

    @property
    def by_month(self) -> list[int]:
        return [sum(months[i] for months in self.referrals.values()) for i in range(12)]

    @property
    def median_days(self) -> float | None:
        return percentile(self.to_decision, 50)

    @property
    def p90_days(self) -> float | None:
        return percentile(self.to_decision, 90)


def percentile(values: list[int], pct: int) -> float | None:
    """Nearest-rank percentile (the median of an even count is the mean of the middle two)."""
    if not values:
        return None
    ordered = sorted(values)
    if pct == 50:
        mid = len(ordered) // 2
        return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return float(ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)])


def category(single: object, multi: object) -> str:
    """Multi-agency when the SPRG said yes to it (whatever else), else single, else none."""
    if _yes(multi):
        return DECISIONS[1]
    if _yes(single):
        return DECISIONS[0]
    return DECISIONS[2]


def _yes(value: object) -> bool:
    return str(value or "").strip().upper() in ("Y", "YES")


def _in_year(moment: datetime | None, year: int) -> bool:
    return moment is not None and london(moment).year == year


def year_figures(session: Session, vault: Vault, year: int, now: datetime) -> YearFigures:
    today = london(now).date()
    out = YearFigures(year=year, made_on=today)
    themes: Counter[str] = Counter()
    for case in session.scalars(select(Case).order_by(Case.created_at)):
        if _in_year(case.created_at, year):
            agency, case_themes = _agency_and_themes(session, vault, case)
            out.referrals.setdefault(agency, [0] * 12)[london(case.created_at).month - 1] += 1
            themes.update(case_themes)
        _decision(session, vault, case, year, out)
        if case.serious_incident and case.aware_on and case.aware_on.year == year:
            for clock in clocks_of(case, today):
                counts = out.clocks.setdefault(NAMES[clock.name], {"met": 0, "missed": 0, "running": 0})
                late = clock.met is False or (clock.done is None and clock.due < today)
                counts["running" if clock.done is None and not late else "missed" if late else "met"] += 1
    out.themes = sorted(themes.items(), key=lambda pair: (-pair[1], pair[0]))
    for row in session.scalars(select(ActionItem)):
        if not _in_year(row.created_at, year):
            continue
        state = (
            "done"
            if row.done_on
            else "carried forward"
            if row.carried_forward_on
            else "overdue"
            if is_overdue(row, today)
            else "open"
        )
        out.actions.setdefault(row.agency, dict.fromkeys(ACTION_STATES, 0))[state] += 1
    out.referrals = dict(sorted(out.referrals.items(), key=lambda pair: pair[0].casefold()))
    out.actions = dict(sorted(out.actions.items(), key=lambda pair: pair[0].casefold()))
    return out


def _agency_and_themes(session: Session, vault: Vault, case: Case) -> tuple[str, list[str]]:
    if case.shredded_at is not None:
        return str((case.tombstone or {}).get("agency") or NOT_GIVEN), []
    referral, _row = case_store.load_referral(session, vault, case)
    agency = " ".join(str(get_path(referral, "referrer.agency") or "").split())
    return agency or NOT_GIVEN, list(referral.get("themes") or [])


def _decision(session: Session, vault: Vault, case: Case, year: int, out: YearFigures) -> None:
    """The case's newest decision counts in the year its first one was recorded."""
    rows = list(session.scalars(select(Decision).where(Decision.case_id == case.id).order_by(Decision.seq)))
    if not rows or not _in_year(rows[0].recorded_at, year):
        return
    if case.shredded_at is not None:
        kept = case.tombstone or {}
        single = kept.get("outcome.single_agency.decision")
        multi = kept.get("outcome.multi_agency.decision")
    else:
        decision = vault.open_json(session, rows[-1], "outcome_enc", key_id=case.key_id)
        single = get(decision, "outcome.single_agency.decision")
        multi = get(decision, "outcome.multi_agency.decision")
    out.decisions[category(single, multi)] += 1
    out.to_decision.append(
        working_days_between(london(case.created_at).date(), london(rows[0].recorded_at).date())
    )
