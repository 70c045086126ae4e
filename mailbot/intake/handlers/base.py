"""The values handlers return, and what they may ask of the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mailbot.forms.model import AttachmentVerdict
from mailbot.mail.reader import InboundMessage

Action = Literal[
    "accept", "request_missing", "merge_followup", "ignore_auto", "quarantine",
    "reject_attachment", "manual_entry", "not_referral",
]
ACTIONS: tuple[Action, ...] = (
    "accept", "request_missing", "merge_followup", "ignore_auto", "quarantine",
    "reject_attachment", "manual_entry", "not_referral",
)
STATUSES = ("awaiting_information", "manual_entry", "ready", "scheduled", "held", "decided",
            "closed")
#: Statuses in which a referrer's new form still changes the referral; later ones belong
#: to people (the team, the SPRG).
OPEN_STATUSES = ("awaiting_information", "manual_entry", "ready")


@dataclass(frozen=True)
class CaseSummary:
    """What a handler may know of an existing case: enough to match a follow-up."""

    id: str
    ref: str
    status: str
    senders: frozenset[str]  # the first sender and the referral's referrer.email


@dataclass
class Outcome:
    action: Action
    #: Plain words, no personal data: stored, listed by ``messages`` and ``quarantine``.
    reason: str
    #: Every attachment the reader looked at, in order (forms, rejects, other documents).
    verdicts: list[AttachmentVerdict] = field(default_factory=list)
    #: The case a follow-up feeds, or a held message points at.
    case: CaseSummary | None = None
    #: Ask the referrer for the form itself (no form arrived).
    wants_form: bool = False
    #: Tell the team (by reference and reason only).
    alert: str | None = None
    #: A follow-up's form becomes a new version of the case (False: kept, not applied).
    update_case: bool = True


class CaseLookup(Protocol):
    def by_ref(self, ref: str) -> CaseSummary | None: ...

    def by_sent_message_id(self, message_id: str) -> CaseSummary | None: ...

    def by_child(self, referral: dict[str, Any]) -> CaseSummary | None:
        """The newest open case about the same child (name and date of birth)."""
        ...

    def same_child(self, case: CaseSummary, referral: dict[str, Any]) -> bool | None:
        """Whether the form is about the case's child; None when either cannot tell."""
        ...


class FormReader(Protocol):
    def __call__(self, message: InboundMessage) -> list[AttachmentVerdict]: ...


@dataclass
class HandlerContext:
    cases: CaseLookup
    read_forms: FormReader
    team_senders: frozenset[str]
    #: Our own addresses: mail from them is never answered (loops).
    own_addresses: frozenset[str]
    #: A person vouched for this message (a released quarantine): the sender checks
    #: (DMARC, the follow-up sender rule) are not applied; everything else is.
    trusted: bool = False
