"""The working morning's jobs: reminders to referrers, then the team's queue digest.

``morning_jobs(app)`` is called by the poller on every cycle; it does its work once per
working day (Monday to Friday, not a bank holiday in England: ``mailbot.workdays``),
from ``digest_hour`` Europe/London time. The day it ran is recorded in the same
transaction as the mail it queued, so a crash repeats the whole morning or none of it,
and it never runs twice.

The digest itself is ``mailbot.jobs.team_digest``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from mailbot.app import App
from mailbot.clock import london
from mailbot.jobs.chasers import ChaseResult, run_chasers
from mailbot.jobs.team_digest import queue_digest
from mailbot.sprg.action_reminders import send_reminders
from mailbot.store.models import PollState
from mailbot.workdays import is_working_day

STATE = "morning_jobs"

#: Per database: the last London day its morning was seen done, so that the poller's
#: later cycles that day skip the database altogether (the row stays the authority).
_seen_done: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


@dataclass
class MorningResult:
    chased: ChaseResult = field(default_factory=ChaseResult)
    digest_sent: bool = False
    #: The actions whose owners were reminded this morning.
    actions_reminded: list[str] = field(default_factory=list)


def morning_jobs(app: App) -> MorningResult | None:
    """Run the morning's reminders and digest if due now and not yet done today."""
    now = app.clock.now()
    local = london(now)
    if not is_working_day(local.date()) or local.hour < app.settings.digest_hour:
        return None
    today = local.date().isoformat()
    if _seen_done.get(app.db, "") >= today:
        return None
    with app.db.session() as session:
        done = session.get(PollState, STATE)
        if done is not None and done.value >= today:
            _seen_done[app.db] = done.value
            return None
        result = MorningResult(chased=run_chasers(app, session, now))
        result.actions_reminded = send_reminders(session, app.vault, app.settings, app.outbound, now)
        session.flush()
        if app.settings.team_address:
            queue_digest(app, session, now, result.chased)
            result.digest_sent = True
        if done is None:
            session.add(PollState(name=STATE, value=today, updated_at=now))
        else:
            done.value, done.updated_at = today, now
    _seen_done[app.db] = today  # after the commit: a rolled-back morning is tried again
    return result
