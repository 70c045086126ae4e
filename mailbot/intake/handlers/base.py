"""The values handlers return, and what they may ask of the core.

A handler returns one of the outcome classes below (or ``None`` to let the next one
look). Each class carries exactly what its action needs, so the core picks the action
by the outcome's type (``mailbot.intake.actions``) and never re-decides: the
vocabulary word in ``action`` is final when the handler returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from mailbot.cases.lookup import CaseSummary
from mailbot.forms.model import AttachmentVerdict, Referral
from mailbot.mail.reader import InboundMessage
from mailbot.sprg.decision_form import DecisionRecord

Action = Literal[
    "accept",
    "request_missing",
    "merge_followup",
    "ignore_auto",
    "quarantine",
    "reject_attachment",
    "manual_entry",
    "not_referral",
]
ACTIONS: tuple[Action, ...] = (
    "accept",
    "request_missing",
    "merge_followup",
    "ignore_auto",
    "quarantine",
    "reject_attachment",
    "manual_entry",
    "not_referral",
)


@dataclass(kw_only=True)
class Outcome:
    action: Action
    #: Plain words, no personal data: stored, listed by ``messages`` and ``quarantine``.
    reason: str
    #: Every attachment the reader looked at, in order (forms, rejects, other documents).
    verdicts: list[AttachmentVerdict] = field(default_factory=list)
    #: The case a follow-up feeds, or a held message points at.
    case: CaseSummary | None = None
    #: Tell the team (by reference and reason only).
    alert: str | None = None

    @property
    def forms(self) -> list[AttachmentVerdict]:
        return [v for v in self.verdicts if v.kind == "form" and v.form is not None]


@dataclass(kw_only=True)
class NewCases(Outcome):
    """``accept``, ``request_missing`` or ``manual_entry``: one new case per form (or one
    case waiting for the form, or one for a person to enter)."""

    #: Ask the referrer for the form itself (no form arrived).
    wants_form: bool = False
    #: A person must read the form (a scan): the case waits for manual entry.
    manual: bool = False
    #: Why no form could be read although one was sent (``handlers.sealed``): ``portal``
    #: (a secure-portal notice), ``encrypted`` (S/MIME without our key), ``password``.
    sealed: str | None = None


@dataclass(kw_only=True)
class FollowUp(Outcome):
    """``merge_followup``: a message about an existing case, from its own referrer."""

    case: CaseSummary
    #: The form becomes a new version of the case (False: kept with it, not applied).
    update_case: bool = True
    #: The same referral sent again: joined to the case, answered "already received".
    resent: bool = False
    #: The form came protected with a password: kept, the referrer told to expect a call.
    locked: bool = False


@dataclass(kw_only=True)
class SprgDecision(Outcome):
    """``merge_followup``: the team emailed the form's outcome section back."""

    case: CaseSummary
    #: The decision as the form's outcome section (FIELDS.md shape).
    decision: DecisionRecord
    #: A person confirmed it although its meeting is still to come (``--force``).
    force: bool = False


@dataclass(kw_only=True)
class Rejected(Outcome):
    """``reject_attachment``: the sender is asked in plain words for a usable copy."""


@dataclass(kw_only=True)
class Held(Outcome):
    """``quarantine``: held for a person, no reply."""


@dataclass(kw_only=True)
class Filed(Outcome):
    """``ignore_auto`` or ``not_referral``: filed, no reply, no case."""


class CaseLookup(Protocol):
    def by_ref(self, ref: str) -> CaseSummary | None: ...

    def by_sent_message_id(self, message_id: str) -> CaseSummary | None: ...

    def by_child(self, referral: Referral) -> CaseSummary | None:
        """The newest open case about the same child (name and date of birth)."""
        ...

    def same_child(self, case: CaseSummary, referral: Referral) -> bool | None:
        """Whether the form is about the case's child; None when either cannot tell."""
        ...

    def resent(
        self, sender: str, referral: Referral, fallbacks: list[str], since: datetime, subject: str
    ) -> CaseSummary | None:
        """The sender's open case, opened since ``since``, with this same referral."""
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
    #: The bot's clock at the start of this message (for the referral-date fallback).
    now: datetime
    #: A person vouched for this message (a released quarantine): the sender checks
    #: (DMARC, the follow-up sender rule) are not applied; everything else is.
    trusted: bool = False
    #: ``mail.resend_window_days``: the same referral again within it joins the case.
    resend_window_days: int = 14


Handler = Callable[[InboundMessage, HandlerContext], Outcome | None]
