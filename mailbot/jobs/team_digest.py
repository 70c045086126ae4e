"""The team's queue digest: counts and what needs a person today, by reference only.

Serious incidents whose statutory clocks are overdue or due by the next working day come
first, above everything else.

It never carries a value from a form: references, days waiting and the status words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.cases.queue import QueueItem, annotated_queue
from mailbot.cases.status import CaseStatus
from mailbot.clock import london, plain_date
from mailbot.jobs.chasers import ChaseResult
from mailbot.outbound.mail import OutboundMail
from mailbot.store.models import InboundMessage


def digest_context(app: App, session: Session, now: datetime, chased: ChaseResult) -> dict[str, Any]:
    items = [i for i in annotated_queue(session, app.vault, app.settings, now) if i.status.active]
    counts = {s: 0 for s in CaseStatus if s.active}
    for item in items:
        counts[item.status] += 1

    def refs(pred: Callable[[QueueItem], bool]) -> list[dict[str, Any]]:
        return [
            {"ref": i.ref, "days": i.working_days_waiting, "overdue": i.overdue} for i in items if pred(i)
        ]

    held = (
        session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.action == "quarantine", InboundMessage.hold_state == "pending")
        )
        or 0
    )
    return {
        # Serious incidents' clocks that are overdue or due by the next working day lead.
        "clocks": [
            {"ref": i.ref, "label": c.label, "words": c.words()} for i in items for c in i.urgent_clocks
        ],
        "today": plain_date(now),
        "weekday": f"{london(now):%A}",
        "counts": [(s.label, n) for s, n in counts.items()],
        "total": len(items),
        "to_enter": refs(lambda i: i.status == CaseStatus.MANUAL_ENTRY),
        "to_schedule": refs(lambda i: i.status == CaseStatus.READY),
        "flagged": refs(lambda i: i.flagged),
        "overdue": refs(
            lambda i: (
                i.overdue and not i.flagged and i.status not in (CaseStatus.MANUAL_ENTRY, CaseStatus.READY)
            )
        ),
        "held_messages": held,
        "reminded": list(chased.reminded),
        "waiting": refs(lambda i: i.status == CaseStatus.AWAITING_INFORMATION and not i.flagged),
        "chaser_days": app.settings.chaser_days,
    }


def queue_digest(app: App, session: Session, now: datetime, chased: ChaseResult) -> None:
    team = app.settings.team_address
    assert team is not None
    context = digest_context(app, session, now, chased)
    app.outbound.queue(
        session,
        now,
        OutboundMail(
            kind="digest",
            template="team_digest",
            subject=f"CSCP queue for {context['weekday']} {context['today']}",
            recipient=team,
            context=context,
        ),
    )
