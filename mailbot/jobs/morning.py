"""The working morning's jobs: reminders to referrers, then the team's queue digest.

``morning_jobs(app)`` is called by the poller on every cycle; it does its work once per
working day (Monday to Friday), from ``digest_hour`` Europe/London time. The day it ran
is recorded in the same transaction as the mail it queued, so a crash repeats the whole
morning or none of it, and it never runs twice.

The digest names cases by reference only: counts, what needs a person today, and what
waits for referrers. It never carries a value from a form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases import views
from mailbot.clock import london
from mailbot.jobs.chasers import ChaseResult, flagged_refs, long_date, reminded_refs, run_chasers
from mailbot.outbound import outbox
from mailbot.outbound.compose import compose, make_message_id, render
from mailbot.settings import Settings
from mailbot.store.models import InboundMessage, PollState

STATE = "morning_jobs"
STATUS_ORDER = ("awaiting_information", "manual_entry", "ready", "scheduled", "held",
                "decided", "closed")
STATUS_WORDS = {
    "awaiting_information": "waiting for the referrer",
    "manual_entry": "to enter by hand",
    "ready": "ready to schedule",
    "scheduled": "on an SPRG agenda",
    "held": "held back",
    "decided": "decided",
    "closed": "closed",
}


def is_working_day(day: date) -> bool:
    return day.weekday() < 5


def is_overdue(item: dict[str, Any], settings: Settings, today: date, flagged: bool) -> bool:
    """Whether a queue item has waited too long for whoever it waits for."""
    status, days = item["status"], item["days_waiting"] or 0
    if status == "awaiting_information":
        return flagged or days >= 2 * settings.chaser_days
    if status in ("manual_entry", "ready", "held"):
        return days >= settings.overdue_days
    if status == "scheduled" and item.get("meeting_date"):
        return date.fromisoformat(item["meeting_date"]) < today
    return False


def annotated_queue(session: Session, app: App, now: datetime,
                    status: str | None = None) -> list[dict[str, Any]]:
    """``views.queue`` plus what the workspace and digest add: reminded, flagged, overdue."""
    items = views.queue(session, app.vault, now, status)
    flagged, reminded = flagged_refs(session), reminded_refs(session)
    today = london(now).date()
    for item in items:
        item["reminded"] = item["ref"] in reminded
        item["flagged"] = item["ref"] in flagged
        item["overdue"] = is_overdue(item, app.settings, today, item["flagged"])
    return items


@dataclass
class MorningResult:
    chased: ChaseResult = field(default_factory=ChaseResult)
    digest_sent: bool = False


def morning_jobs(app: App) -> MorningResult | None:
    """Run the morning's reminders and digest if due now and not yet done today."""
    now = app.clock.now()
    local = london(now)
    if not is_working_day(local.date()) or local.hour < app.settings.digest_hour:
        return None
    today = local.date().isoformat()
    with app.db.session() as session:
        done = session.get(PollState, STATE)
        if done is not None and done.value >= today:
            return None
        result = MorningResult(chased=run_chasers(app, session, now))
        session.flush()
        if app.settings.team_address:
            queue_digest(app, session, now, result.chased)
            result.digest_sent = True
        if done is None:
            session.add(PollState(name=STATE, value=today, updated_at=now))
        else:
            done.value, done.updated_at = today, now
    return result


def digest_context(app: App, session: Session, now: datetime,
                   chased: ChaseResult) -> dict[str, Any]:
    items = [i for i in annotated_queue(session, app, now) if i["status"] != "closed"]
    counts = {s: 0 for s in STATUS_ORDER if s != "closed"}
    for item in items:
        counts[item["status"]] = counts.get(item["status"], 0) + 1

    def refs(pred: Any) -> list[dict[str, Any]]:
        return [{"ref": i["ref"], "days": i["days_waiting"], "overdue": i["overdue"]}
                for i in items if pred(i)]

    held = session.scalar(select(func.count()).select_from(InboundMessage).where(
        InboundMessage.action == "quarantine", InboundMessage.hold_state == "pending")) or 0
    return {
        "today": long_date(now),
        "weekday": f"{london(now):%A}",
        "counts": [(STATUS_WORDS[s], n) for s, n in counts.items()],
        "total": len(items),
        "to_enter": refs(lambda i: i["status"] == "manual_entry"),
        "to_schedule": refs(lambda i: i["status"] == "ready"),
        "flagged": refs(lambda i: i["flagged"]),
        "overdue": refs(lambda i: i["overdue"] and not i["flagged"]
                        and i["status"] not in ("manual_entry", "ready")),
        "held_messages": held,
        "reminded": list(chased.reminded),
        "waiting": refs(lambda i: i["status"] == "awaiting_information" and not i["flagged"]),
        "chaser_days": app.settings.chaser_days,
    }


def queue_digest(app: App, session: Session, now: datetime, chased: ChaseResult) -> None:
    team = app.settings.team_address
    assert team is not None
    context = digest_context(app, session, now, chased)
    subject = f"CSCP queue for {context['weekday']} {context['today']}"
    rendered = render(app.env, "team_digest", subject, **context)
    email = compose(rendered=rendered, sender=app.settings.mail_from, recipient=team,
                    message_id=make_message_id("digest", [], now, app.settings.bot_domain),
                    date=now, auto="auto-generated")
    outbox.queue(session, app.vault, now, email, kind="digest", recipient=team, case_refs=[],
                 key_id=app.vault.new_key(session))
