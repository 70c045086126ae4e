"""Action plans: the actions an SPRG decision carries, and following them through.

Each action has its text, the owning agency, a named owner (a role, not necessarily a
workspace user), an optional e-mail address for reminders, and a due date. It is done
with evidence, or explicitly carried forward with a reason; a case is closed only when
every action is one or the other (``open_actions``).

The text, owner, e-mail address, evidence and reason are encrypted under the case's data
key; the agency (an organisation) and the dates stay in clear for lists and the annual
report. The text goes outside the partnership in reminders (``action_reminders``), so
the team is told it must not name the child.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases import store as case_store
from mailbot.errors import NotFound, UsageError
from mailbot.sprg.decisions import latest
from mailbot.store.audit import audit
from mailbot.store.models import ActionItem, Case
from mailbot.store.vault import Vault

#: Told to the team wherever an action is written (CLI and workspace).
SENT_OUTSIDE = (
    "The action's text is sent by e-mail to its owner, outside the partnership: "
    "do not name the child or the family."
)
MIN_ID = 6


@dataclass
class ActionView:
    id: str
    ref: str
    text: str
    agency: str
    owner: str
    owner_email: str | None
    due: date
    done: date | None
    evidence: str | None
    carried_forward: date | None
    overdue: bool

    @property
    def state(self) -> str:
        if self.done:
            return "done"
        if self.carried_forward:
            return "carried forward"
        return "overdue" if self.overdue else "open"

    def as_json(self) -> dict[str, Any]:
        """``actions list --json``: ``{id, ref, text, agency, owner, due, done, overdue}``."""
        return {
            "id": self.id,
            "ref": self.ref,
            "text": self.text,
            "agency": self.agency,
            "owner": self.owner,
            "due": self.due.isoformat(),
            "done": self.done.isoformat() if self.done else None,
            "overdue": self.overdue,
            "carried_forward": (self.carried_forward.isoformat() if self.carried_forward else None),
        }


def is_open(row: ActionItem) -> bool:
    return row.done_on is None and row.carried_forward_on is None


def is_overdue(row: ActionItem, today: date) -> bool:
    return is_open(row) and row.due_on < today


def add(
    session: Session,
    vault: Vault,
    now: datetime,
    case: Case,
    *,
    text: str,
    agency: str,
    owner: str,
    email: str | None,
    due: date,
    actor: str,
) -> ActionItem:
    """An action of the case's SPRG decision (the newest one)."""
    decision = latest(session, case.id)
    if decision is None:
        raise UsageError(f"{case.ref} has no SPRG decision yet: record the outcome first")
    if case.status == "closed":
        raise UsageError(f"{case.ref} is closed")
    for name, value in (("text", text), ("agency", agency), ("owner", owner)):
        if not value.strip():
            raise UsageError(f"the action needs its {name}")
    if email is not None and (not email.strip() or "@" not in email or " " in email.strip()):
        raise UsageError(f"{email!r} is not an e-mail address")
    row = ActionItem(
        case_id=case.id,
        decision_id=decision.id,
        key_id=case.key_id,
        agency=" ".join(agency.split())[:200],
        due_on=due,
        created_at=now,
        created_by=actor,
    )
    row.text_enc = vault.seal_text(session, row, "text_enc", text.strip())
    row.owner_enc = vault.seal_text(session, row, "owner_enc", owner.strip())
    if email:
        row.owner_email_enc = vault.seal_text(session, row, "owner_email_enc", email.strip().lower())
    session.add(row)
    session.flush()
    audit(
        session,
        now,
        actor,
        "action.added",
        case_id=case.id,
        detail=f"action {row.id}, {row.agency}, due {due.isoformat()}",
    )
    return row


def find(session: Session, action_id: str) -> ActionItem:
    """An action by its id, or by the first characters of it (at least six)."""
    wanted = action_id.strip().lower()
    if len(wanted) < MIN_ID:
        raise UsageError(f"give at least {MIN_ID} characters of the action's id")
    rows = list(session.scalars(select(ActionItem).where(ActionItem.id.like(f"{wanted}%"))))
    if not rows:
        raise NotFound(f"no action {action_id}")
    if len(rows) > 1:
        raise UsageError(f"{action_id} names more than one action: give more of its id")
    return rows[0]


def complete(
    session: Session, vault: Vault, now: datetime, row: ActionItem, *, evidence: str, on: date, actor: str
) -> None:
    if not evidence.strip():
        raise UsageError("say what shows the action is done (--evidence)")
    if not is_open(row):
        raise UsageError("the action is already done or carried forward")
    row.done_on = on
    row.evidence_enc = vault.seal_text(session, row, "evidence_enc", evidence.strip())
    audit(
        session,
        now,
        actor,
        "action.done",
        case_id=row.case_id,
        detail=f"action {row.id}, done {on.isoformat()}",
    )


def carry_forward(
    session: Session, vault: Vault, now: datetime, row: ActionItem, *, why: str, on: date, actor: str
) -> None:
    """Left open on purpose (e.g. to a new plan): it no longer keeps the case open."""
    if not why.strip():
        raise UsageError("say why the action is carried forward (--why)")
    if not is_open(row):
        raise UsageError("the action is already done or carried forward")
    row.carried_forward_on = on
    row.carry_note_enc = vault.seal_text(session, row, "carry_note_enc", why.strip())
    audit(session, now, actor, "action.carried_forward", case_id=row.case_id, detail=f"action {row.id}")


def open_actions(session: Session, case: Case) -> list[ActionItem]:
    return [
        row
        for row in session.scalars(select(ActionItem).where(ActionItem.case_id == case.id))
        if is_open(row)
    ]


def view(session: Session, vault: Vault, row: ActionItem, ref: str, today: date) -> ActionView:
    def opened(column: str) -> str | None:
        return vault.open_text(session, row, column) if getattr(row, column) else None

    return ActionView(
        id=row.id,
        ref=ref,
        text=vault.open_text(session, row, "text_enc"),
        agency=row.agency,
        owner=vault.open_text(session, row, "owner_enc"),
        owner_email=opened("owner_email_enc"),
        due=row.due_on,
        done=row.done_on,
        evidence=opened("evidence_enc"),
        carried_forward=row.carried_forward_on,
        overdue=is_overdue(row, today),
    )


def listed(
    session: Session,
    vault: Vault,
    today: date,
    *,
    overdue: bool = False,
    agency: str | None = None,
    ref: str | None = None,
) -> list[ActionView]:
    """Actions by due date; only overdue ones, one agency's (any case), or one case's."""
    stmt = select(ActionItem, Case.ref).join(Case, Case.id == ActionItem.case_id)
    if ref:
        stmt = stmt.where(Case.id == case_store.case_by_ref(session, ref).id)
    out = []
    for row, case_ref in session.execute(stmt.order_by(ActionItem.due_on, Case.ref)):
        if overdue and not is_overdue(row, today):
            continue
        if agency and row.agency.casefold() != " ".join(agency.split()).casefold():
            continue
        out.append(view(session, vault, row, case_ref, today))
    return out


def overdue_by_agency(session: Session, vault: Vault, today: date) -> list[tuple[str, list[ActionView]]]:
    """Overdue actions grouped by owning agency (for the SPRG digest), agencies in order."""
    groups: dict[str, list[ActionView]] = {}
    for item in listed(session, vault, today, overdue=True):
        groups.setdefault(item.agency, []).append(item)
    return sorted(groups.items(), key=lambda pair: pair[0].casefold())
