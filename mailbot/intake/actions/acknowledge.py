"""The acknowledgement: one reply naming each case a message opened or updated."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailbot.cases.store import VersionInput
from mailbot.forms import field_label
from mailbot.intake.actions.base import ActionContext

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


@dataclass
class CaseNote:
    """One case's part of a reply: reference, headline, and what to ask."""

    ref: str
    headline: str
    missing: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    manual: bool = False
    #: Which attachment it came from, in words ("the first form"), when there are several.
    position: str = ""


def ordinal(number: int) -> str:
    return f"the {ORDINALS[number] if number < len(ORDINALS) else 'next'} form"


def note_for(ref: str, version: VersionInput, verb: str) -> CaseNote:
    missing = [field_label(key) for key in version.missing]
    queries = [q["problem"] for q in version.queries]
    if missing:
        headline = f"{verb} - further information needed"
    elif queries:
        headline = f"{verb} - please check some details"
    else:
        headline = f"{verb} - complete"
    return CaseNote(ref, headline, missing, queries)


def subject_for(notes: list[CaseNote]) -> str:
    plural = "s" if len(notes) > 1 else ""
    if any(n.manual for n in notes):
        return f"Referral{plural} received - the CSCP team will enter your form"
    if any(n.missing for n in notes):
        return f"Referral{plural} received - further information needed"
    if any(n.queries for n in notes):
        return f"Referral{plural} received - please check some details"
    if all(n.headline.startswith("updated") for n in notes):
        return "Referral updated - now complete"
    return f"Referral{plural} received"


def acknowledge(ctx: ActionContext, notes: list[CaseNote], key_id: str) -> None:
    ctx.reply(
        "acknowledgement",
        subject_for(notes),
        [n.ref for n in notes],
        key_id,
        cases=notes,
        any_missing=any(n.missing or n.queries for n in notes),
        any_manual=any(n.manual for n in notes),
        updated=all(n.headline.startswith("updated") for n in notes),
    )
