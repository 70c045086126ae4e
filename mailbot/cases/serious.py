"""Serious incidents: the flag, its clocks' dates, and the team's alert.

A referral whose form gives a date of death is flagged on arrival; the team can flag or
clear any case, with a reason. Setting the flag alerts the team at once (an outbound
mail through the outbox, naming the reference and the clocks' dates, nothing from the
form) and starts the two statutory clocks (``mailbot.cases.clocks``) from the day the
partnership became aware: the day the referral arrived, or the day a person flagged it,
until the team records another day.

Every change is audited; a person's reason is kept encrypted with the case (their words
may describe the child), and the audit entry says only what changed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from mailbot.cases.clocks import RECORDS, clocks_of
from mailbot.clock import london
from mailbot.errors import UsageError
from mailbot.forms.record import get_path
from mailbot.outbound.mail import Outbound, OutboundMail
from mailbot.store.audit import audit
from mailbot.store.models import Case
from mailbot.store.vault import Vault

BOT = "mailbot"


def gives_date_of_death(referral: dict[str, Any]) -> bool:
    """The form's "Date of Death" holds something (a date, or words a person must read)."""
    value = get_path(referral, "child.dod")
    return bool(value and str(value).strip())


def set_flag(
    session: Session,
    vault: Vault,
    outbound: Outbound,
    now: datetime,
    case: Case,
    on: bool,
    *,
    actor: str,
    why: str,
    team_address: str | None,
    aware: date | None = None,
) -> bool:
    """Flag or clear a case; True when it changed. Flagging alerts the team at once."""
    if actor != BOT and not why.strip():
        raise UsageError("say why (--why): the reason is kept with the case")
    if case.serious_incident == on:
        return False
    case.serious_incident = on
    case.serious_set_by = actor
    if why.strip():
        case.serious_why_enc = vault.seal_text(session, case, "serious_why_enc", why.strip())
    if on:
        case.aware_on = case.aware_on or aware or london(now).date()
    audit(
        session,
        now,
        actor,
        "case.serious_incident" if on else "case.serious_cleared",
        case_id=case.id,
        detail=f"aware {case.aware_on.isoformat()}" if on and case.aware_on else "",
    )
    if on and team_address:
        alert_team(session, outbound, now, case, team_address)
    return True


def alert_team(session: Session, outbound: Outbound, now: datetime, case: Case, team: str) -> None:
    """The team hears at once, by reference and dates only."""
    today = london(now).date()
    outbound.queue(
        session,
        now,
        OutboundMail(
            kind="alert",
            template="serious_incident_alert",
            subject="Serious incident: statutory clocks running",
            recipient=team,
            refs=[case.ref],
            key_id=case.key_id,
            context={
                "ref": case.ref,
                "aware": f"{case.aware_on:%d/%m/%Y}" if case.aware_on else "-",
                "clocks": [(c.label, c.words()) for c in clocks_of(case, today)],
            },
        ),
    )


def flag_on_arrival(
    session: Session,
    vault: Vault,
    outbound: Outbound,
    now: datetime,
    case: Case,
    referral: dict[str, Any],
    team_address: str | None,
) -> bool:
    """A form with a date of death flags the case, unless a person already decided."""
    if case.serious_incident or case.serious_set_by not in (None, BOT):
        return False
    if not gives_date_of_death(referral):
        return False
    return set_flag(session, vault, outbound, now, case, True, actor=BOT, why="", team_address=team_address)


def record_date(
    session: Session, now: datetime, case: Case, what: str, day: date | None, *, actor: str
) -> None:
    """``clock REF aware|panel_notified|rapid_review_sent DATE``; None clears a date."""
    if what not in RECORDS:
        raise UsageError(f"{what!r} is not a clock date: one of {', '.join(RECORDS)}")
    if not case.serious_incident:
        raise UsageError(
            f"{case.ref} is not flagged as a serious incident (mailbot serious {case.ref} on --why ...)"
        )
    if day is not None and day > london(now).date():
        raise UsageError(f"{day:%d/%m/%Y} is in the future: record the day it happened")
    if what == "aware" and day is None:
        raise UsageError("the day the partnership became aware cannot be cleared")
    setattr(case, RECORDS[what], day)
    audit(
        session,
        now,
        actor,
        f"case.clock.{what}",
        case_id=case.id,
        detail=day.isoformat() if day else "cleared",
    )
