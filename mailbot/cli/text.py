"""Plain-text output for people at a terminal: short tables, British dates, no clutter."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from mailbot.clock import show_time

if TYPE_CHECKING:  # the models behind these are imported by the commands that show them
    from mailbot.cases.queue import QueueItem
    from mailbot.cases.views import CaseView, HeldItem, MessageItem
    from mailbot.intake.poller import CycleResult


def _when(value: datetime | None) -> str:
    return show_time(value) if value else "-"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def queue_table(items: list[QueueItem]) -> str:
    if not items:
        return "No cases.\n"
    rows = [
        [
            i.ref + (" (serious incident)" if i.serious_incident else ""),
            i.status.label,
            _when(i.received_at),
            str(i.days_waiting),
            "".join(f"{c.label} {c.words()}; " for c in i.urgent_clocks)
            + i.waiting_for
            + (
                f" (possible duplicate of {', '.join(i.possible_duplicates)})"
                if i.possible_duplicates
                else ""
            ),
        ]
        for i in items
    ]
    return table(["Reference", "Status", "Received", "Days", "Waiting for"], rows)


def messages_table(items: list[MessageItem]) -> str:
    from mailbot.cases.views import kind_words

    if not items:
        return "No messages.\n"
    rows = [
        [i.id, _when(i.received_at), kind_words(i.action, i.reason), ", ".join(i.case_refs) or "-"]
        for i in items
    ]
    return (
        table(["Id", "Received", "How it was handled", "Cases"], rows)
        + "\nThe reasons are in `mailbot messages --json`.\n"
    )


def quarantine_table(items: list[HeldItem]) -> str:
    if not items:
        return "Nothing is held in quarantine.\n"
    rows = [[i.id, _when(i.received_at), i.sender, i.reason[:60]] for i in items]
    return (
        table(["Id", "Received", "Sender", "Reason"], rows)
        + "\nDecide with: mailbot quarantine release ID | mailbot quarantine reject ID --reason T\n"
    )


def _day(value: str | None) -> str:
    """An ISO date as people read it here: 05/10/2026."""
    if not value:
        return "-"
    try:
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    except ValueError:
        return value


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"


def _value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value).replace("\n", "\n" + " " * 30)


def case_text(item: CaseView) -> str:
    from mailbot.cases.views import KIND_WORDS
    from mailbot.forms import field_label

    r = item.referral
    out = [f"{item.ref}  ({item.status.label})", f"Waiting for: {item.waiting_for}"]
    if item.serious_incident:
        out.append(
            "Serious incident: the partnership became aware on "
            f"{_day(item.aware_on.isoformat()) if item.aware_on else '-'}"
        )
        out += [f"  {c.label}: {c.words()}" for c in item.clocks]
    out.append("")

    def line(label: str, value: Any) -> None:
        out.append(f"  {label:<27} {_value(value)}")

    out.append("Referrer")
    line("Name", r["referrer"]["name"])
    line("Role", r["referrer"]["role"])
    line("Agency", r["referrer"]["agency"])
    line("Email", r["referrer"]["email"])
    line("Date of referral", _day(r["referral_date"]))
    out.append("Child")
    for key, label in (
        ("full_name", "Full name"),
        ("dob", "Date of birth"),
        ("dod", "Date of death"),
        ("address", "Home address"),
        ("ethnicity", "Ethnicity"),
        ("gender_at_birth", "Gender at birth"),
        ("send", "SEND"),
        ("nhs_number", "NHS number"),
        ("crs_number", "CRS number"),
        ("pnc_number", "PNC number"),
    ):
        value = r["child"][key]
        line(label, _day(value) if key in ("dob", "dod") and value else value)
    out.append("Household")
    for member in r["household"]:
        line(
            member.get("relationship") or "Member",
            f"{member.get('name') or '-'}, {member.get('gender') or '-'}, born {_day(member.get('dob'))}",
        )
    line("Address", r["household_address"])
    out.append("Referral")
    line("Incident or history", r["incident_details"])
    line("Anticipated learning", r["anticipated_learning"])
    line("Themes", r["themes"])
    if item.missing_required:
        out.append("Missing: " + "; ".join(field_label(k) for k in item.missing_required))
    for q in item.queries:
        out.append(f"To check: {field_label(q['field'])}: {q['problem']}")
    if item.possible_duplicates:
        out.append("Possible duplicate of: " + ", ".join(item.possible_duplicates))
    out.append("")
    out.append("Messages")
    for m in item.messages:
        arrow = "in " if m.direction == "in" else "out"
        kind = KIND_WORDS.get(m.kind, m.kind)
        out.append(f"  {arrow} {_when(m.received_at)}  {kind:<30} {m.subject}")
    if item.attachments:
        out.append("Attachments")
        for a in item.attachments:
            out.append(f"  {a.kind:<7} {a.filename} ({_size(a.size)})")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class StatusReport:
    last_poll: str | None  # ISO time of the last poll, as recorded
    outbox_backlog: int
    outbox_failed: int
    quarantine: int
    master_key_version: int
    audit_chain_intact: bool
    audit_entries: int = 0
    #: Messages tried more than once and still in the inbox (``mailbox.max_attempts``).
    retried_messages: int = 0
    most_attempts: int = 0
    max_attempts: int = 3

    @property
    def needs_person(self) -> bool:
        return bool(
            self.outbox_failed or self.quarantine or not self.audit_chain_intact or self.retried_messages
        )

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "needs_person": self.needs_person}


def status_text(report: StatusReport) -> str:
    last = datetime.fromisoformat(report.last_poll) if report.last_poll else None
    lines = [
        f"last poll:          {_when(last)}",
        f"outbox backlog:     {report.outbox_backlog}",
        f"outbox failed:      {report.outbox_failed}",
        f"quarantine:         {report.quarantine}",
        f"master key version: {report.master_key_version}",
        f"audit chain:        {'intact' if report.audit_chain_intact else 'BROKEN'}"
        f" ({report.audit_entries} entries)",
        f"retried messages:   {report.retried_messages}"
        + (
            f" (tried up to {report.most_attempts} times; one is held for a person "
            f"after {report.max_attempts})"
            if report.retried_messages
            else ""
        ),
        "a person is needed" if report.needs_person else "all well",
    ]
    return "\n".join(lines) + "\n"


def cycle_summary(result: CycleResult) -> str:
    counts: dict[str, int] = {}
    for handled in result.handled:
        key = "duplicate" if handled.duplicate else handled.action
        counts[key] = counts.get(key, 0) + 1
    parts = [f"{n} {k}" for k, n in sorted(counts.items())] or ["no new mail"]
    d = result.drained
    return (
        f"handled {len(result.handled)} message(s): {', '.join(parts)}; "
        f"sent {d.sent}, retrying {d.retry}, failed {d.failed}"
    )


def left_in_inbox(result: CycleResult) -> str:
    """One line for a ``poll --once`` that could not handle everything."""
    parts = []
    if result.failed:
        parts.append(f"{result.failed} failed and will be tried again")
    if result.not_reached:
        parts.append(f"{result.not_reached} not reached (stopping)")
    return f"{result.left} message(s) left in the inbox: {', '.join(parts)}; see mailbot status"
