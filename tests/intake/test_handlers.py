"""Each handler as the pure function it is: a message and a fake case lookup in, an
outcome (or None) out. No database, no mailbox, no clock but a fixed one."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from mailbot.cases.lookup import CaseSummary
from mailbot.cases.status import CaseStatus
from mailbot.forms import empty_referral
from mailbot.forms.model import AttachmentVerdict, ParsedForm
from mailbot.intake.handlers import decide, default_handlers
from mailbot.intake.handlers.automatic import handle_automatic
from mailbot.intake.handlers.base import (
    Filed,
    FollowUp,
    HandlerContext,
    Held,
    NewCases,
    Outcome,
    Rejected,
    SprgDecision,
)
from mailbot.intake.handlers.followup import handle_followup
from mailbot.intake.handlers.referral import handle_correspondence, handle_referral
from mailbot.intake.handlers.sprg_decision import handle_sprg_decision
from mailbot.intake.handlers.trust import handle_untrusted
from mailbot.mail.reader import InboundMessage, read_message
from mailbot.sandbox import breach_verdict

NOW = datetime(2026, 10, 12, 9, 15, tzinfo=UTC)
REFERRER = "jo.referrer@school.example.org"
TEAM = "cscp-team@example.org"
OTHER = "someone.else@example.net"
TRUSTED = "mx.cscp.example.org"


def referral(**values: Any) -> dict[str, Any]:
    """A complete referral (every required field filled), with ``values`` over it."""
    record = empty_referral()
    record["referrer"].update(name="Jo Referrer", role="Teacher", agency="School", email=REFERRER)
    record["referral_date"] = "2026-10-09"
    record["child"].update(full_name="Sam Example", dob="2015-03-02", address="1 Road")
    record["incident_details"] = "Details"
    record["anticipated_learning"] = "Learning"
    for key, value in values.items():
        section, _, leaf = key.partition(".")
        if leaf:
            record[section][leaf] = value
        else:
            record[section] = value
    return record


def form(record: dict[str, Any] | None = None) -> AttachmentVerdict:
    record = record if record is not None else referral()
    return AttachmentVerdict("coc.docx", "form", form=ParsedForm(referral=record, missing_required=[]))


def decision_form(meeting: str = "2026-10-08") -> AttachmentVerdict:
    record = referral()
    record["outcome"]["single_agency"]["decision"] = "Y"
    record["outcome"]["multi_agency"]["decision"] = "N"
    record["sprg"]["meeting_date"] = meeting
    return form(record)


def message(
    subject: str = "Case of concern referral",
    *,
    sender: str = REFERRER,
    body: str = "Please find the referral attached.",
    attach: bool | str = False,
    auth: str | None = None,
    **headers: str,
) -> InboundMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "cscp@example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = "<m1@school.example.org>"
    msg["Date"] = "Fri, 09 Oct 2026 10:00:00 +0100"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if auth:
        domain = sender.rpartition("@")[2]
        msg["Authentication-Results"] = f"{TRUSTED}; dmarc={auth} header.from={domain}"
    msg.set_content(body)
    if attach:
        msg.add_attachment(
            b"PK\x03\x04 not really",
            maintype="application",
            subtype="octet-stream",
            filename=attach if isinstance(attach, str) else "form.docx",
        )
    return read_message(msg.as_bytes(), sender_auth="authserv-id", trusted_authserv_id=TRUSTED)


def everything(msg: InboundMessage, ctx: HandlerContext) -> Outcome:
    """The default handlers in order, as the pipeline asks them."""
    return decide(default_handlers(), msg, ctx)


def other_file(name: str, kind: str = "not_form") -> AttachmentVerdict:
    """An attachment that is not the form (or, ``reject``, one the bot cannot open)."""
    reason = (
        "The attachment could not be opened: it looks damaged."
        if kind == "reject"
        else "The attachment is not a document we read as a referral form."
    )
    return AttachmentVerdict(name, kind, reason=reason)  # type: ignore[arg-type]


CASE = CaseSummary("c1", "COC-2026-0001", CaseStatus.AWAITING_INFORMATION, frozenset({REFERRER}))
SECOND = CaseSummary("c2", "COC-2026-0002", CaseStatus.READY, frozenset({REFERRER}))
DECIDED = replace(CASE, status=CaseStatus.DECIDED)


@dataclass
class FakeCases:
    """The ``CaseLookup`` protocol over a few summaries: by ref, by child's name."""

    cases: list[CaseSummary] = field(default_factory=list)
    #: case id -> the child's name that case is about
    children: dict[str, str] = field(default_factory=dict)
    sent: dict[str, str] = field(default_factory=dict)  # our Message-ID -> case ref

    def by_ref(self, ref: str) -> CaseSummary | None:
        return next((c for c in self.cases if c.ref == ref), None)

    def by_sent_message_id(self, message_id: str) -> CaseSummary | None:
        ref = self.sent.get(message_id)
        return self.by_ref(ref) if ref else None

    def by_child(self, record: dict[str, Any]) -> CaseSummary | None:
        name = record["child"]["full_name"]
        return next((c for c in self.cases if self.children.get(c.id) == name), None)

    def same_child(self, case: CaseSummary, record: dict[str, Any]) -> bool | None:
        known = self.children.get(case.id)
        return None if known is None else known == record["child"]["full_name"]

    def resent(
        self, sender: str, record: dict[str, Any], fallbacks: list[str], since: Any, subject: str
    ) -> CaseSummary | None:
        return None  # the resend rule is tested through the whole bot (test_resend.py)


def context(
    *verdicts: AttachmentVerdict, cases: FakeCases | None = None, trusted: bool = False
) -> HandlerContext:
    return HandlerContext(
        cases=cases or FakeCases(),
        read_forms=lambda _m: list(verdicts),
        team_senders=frozenset({TEAM}),
        own_addresses=frozenset({"cscp@example.org"}),
        now=NOW,
        trusted=trusted,
    )


LOOKUP = FakeCases(
    [CASE, SECOND],
    children={"c1": "Sam Example", "c2": "Alex Other"},
    sent={"<reply.COC-2026-0001@cscp.example.org>": "COC-2026-0001"},
)

#: (name, handler, message, context, expected type or None, action, words in the reason)
TABLE: list[tuple[str, Any, InboundMessage, HandlerContext, type[Outcome] | None, str, str]] = [
    (
        "out of office",
        handle_automatic,
        message(Auto_Submitted="auto-replied"),
        context(),
        Filed,
        "ignore_auto",
        "RFC 3834",
    ),
    (
        "auto-submitted text never copied",
        handle_automatic,
        message(Auto_Submitted="auto-generated; " + "x" * 500),
        context(),
        Filed,
        "ignore_auto",
        "auto-generated",
    ),
    (
        "unknown auto-submitted keyword",
        handle_automatic,
        message(Auto_Submitted="Sam Example was here"),
        context(),
        Filed,
        "ignore_auto",
        "another value",
    ),
    (
        "list mail",
        handle_automatic,
        message(List_Id="<list.example.org>"),
        context(),
        Filed,
        "ignore_auto",
        "List-*",
    ),
    (
        "our own address",
        handle_automatic,
        message(sender="cscp@example.org"),
        context(),
        Filed,
        "ignore_auto",
        "mail loop",
    ),
    ("a person's mail", handle_automatic, message(), context(), None, "", ""),
    ("dmarc fail", handle_untrusted, message(auth="fail"), context(), Held, "quarantine", "dmarc=fail"),
    (
        "dmarc fail, released by a person",
        handle_untrusted,
        message(auth="fail"),
        context(trusted=True),
        None,
        "",
        "",
    ),
    (
        "no sender",
        handle_untrusted,
        message(sender="undisclosed-recipients:;"),
        context(),
        Held,
        "quarantine",
        "no usable sender",
    ),
    ("dmarc pass", handle_untrusted, message(auth="pass"), context(), None, "", ""),
    (
        "complete form",
        handle_referral,
        message(),
        context(form()),
        NewCases,
        "accept",
        "1 referral form attached",
    ),
    (
        "two forms",
        handle_referral,
        message(),
        context(form(), form()),
        NewCases,
        "accept",
        "2 referral forms",
    ),
    (
        "form missing the child's date of birth",
        handle_referral,
        message(),
        context(form(referral(**{"child.dob": None}))),
        NewCases,
        "request_missing",
        "required fields are empty: child.dob",
    ),
    (
        "form without e-mail: the sender fills it",
        handle_referral,
        message(),
        context(form(referral(**{"referrer.email": None}))),
        NewCases,
        "accept",
        "attached",
    ),
    (
        "scan",
        handle_referral,
        message(),
        context(AttachmentVerdict("scan.pdf", "manual", reason="a scan")),
        NewCases,
        "manual_entry",
        "a person will enter it",
    ),
    (
        "damaged form",
        handle_referral,
        message(attach=True),
        context(AttachmentVerdict("form.docx", "reject", reason="the file is damaged")),
        Rejected,
        "reject_attachment",
        "the file is damaged",
    ),
    (
        "referral words, no form",
        handle_referral,
        message(),
        context(),
        NewCases,
        "request_missing",
        "ask for the form",
    ),
    (
        "nothing about a referral",
        handle_referral,
        message("Minutes", body="See you at 3."),
        context(),
        None,
        "",
        "",
    ),
    (
        "general mail",
        handle_correspondence,
        message("Minutes", body="See you."),
        context(),
        Filed,
        "not_referral",
        "general correspondence",
    ),
    # The general mailbox: an attachment that is not a form, nothing about a referral.
    (
        "a script, nothing about a referral",
        everything,
        message("Build script", body="The script we talked about.", attach="deploy.rb"),
        context(other_file("deploy.rb")),
        Filed,
        "not_referral",
        "general correspondence",
    ),
    (
        "a picture",
        everything,
        message("Photos from the away day", body="Enjoy!", attach="IMG_0042.jpg"),
        context(other_file("IMG_0042.jpg")),
        Filed,
        "not_referral",
        "general correspondence",
    ),
    (
        "a spreadsheet",
        everything,
        message("Training figures", body="Q3 attendance.", attach="attendance.xlsx"),
        context(other_file("attendance.xlsx")),
        Filed,
        "not_referral",
        "general correspondence",
    ),
    (
        "minutes (a Word document, not the form)",
        everything,
        message("Board minutes", body="Draft minutes for comment.", attach="minutes.docx"),
        context(other_file("minutes.docx")),
        Filed,
        "not_referral",
        "general correspondence",
    ),
    (
        "a damaged PDF, nothing about a referral",
        everything,
        message("Newsletter", body="This month's newsletter.", attach="information.pdf"),
        context(other_file("information.pdf", "reject")),
        Filed,
        "not_referral",
        "general correspondence",
    ),
    (
        "a damaged file named like the form",
        everything,
        message("Sam", body="", attach="CoCForm_v2.docx"),
        context(other_file("CoCForm_v2.docx", "reject")),
        Rejected,
        "reject_attachment",
        "looks damaged",
    ),
    (
        "a damaged file, the message names a form",
        everything,
        message("From Sam's school", body="Here is the form.", attach="scan1.pdf"),
        context(other_file("scan1.pdf", "reject")),
        Rejected,
        "reject_attachment",
        "looks damaged",
    ),
    (
        "a picture, about a referral: ask for the form",
        everything,
        message("Referral", body="Photo of the referral.", attach="IMG_0043.jpg"),
        context(other_file("IMG_0043.jpg")),
        NewCases,
        "request_missing",
        "ask for the form",
    ),
    (
        "tagged reply from the referrer",
        handle_followup,
        message("Re: [COC-2026-0001] Referral received"),
        context(form(), cases=LOOKUP),
        FollowUp,
        "merge_followup",
        "carrying a form",
    ),
    (
        "threaded reply without a tag",
        handle_followup,
        message("Re: Referral", In_Reply_To="<reply.COC-2026-0001@cscp.example.org>"),
        context(cases=LOOKUP),
        FollowUp,
        "merge_followup",
        "without a form",
    ),
    (
        "tagged mail from someone else",
        handle_followup,
        message("[COC-2026-0001]", sender=OTHER),
        context(form(), cases=LOOKUP),
        Held,
        "quarantine",
        "different sender",
    ),
    (
        "someone else, released by a person",
        handle_followup,
        message("[COC-2026-0001]", sender=OTHER),
        context(form(), cases=LOOKUP, trusted=True),
        FollowUp,
        "merge_followup",
        "carrying a form",
    ),
    (
        "reply naming two cases, form of the second",
        handle_followup,
        message("[COC-2026-0001] [COC-2026-0002]"),
        context(form(referral(**{"child.full_name": "Alex Other"})), cases=LOOKUP),
        FollowUp,
        "merge_followup",
        "COC-2026-0002",
    ),
    (
        "reply naming two cases, form of neither",
        handle_followup,
        message("[COC-2026-0001] [COC-2026-0002]"),
        context(form(referral(**{"child.full_name": "Nobody Known"})), cases=LOOKUP),
        Held,
        "quarantine",
        "not exactly one",
    ),
    (
        "form for a decided case",
        handle_followup,
        message("[COC-2026-0001]"),
        context(form(), cases=FakeCases([DECIDED])),
        FollowUp,
        "merge_followup",
        "not applied",
    ),
    ("unknown tag", handle_followup, message("[COC-2026-0999]"), context(cases=LOOKUP), None, "", ""),
    (
        "decision from the team",
        handle_sprg_decision,
        message("[COC-2026-0001]", sender=TEAM, auth="pass"),
        context(decision_form(), cases=LOOKUP),
        SprgDecision,
        "merge_followup",
        "decision recorded",
    ),
    (
        "decision found by the child",
        handle_sprg_decision,
        message("Outcome", sender=TEAM, auth="pass"),
        context(decision_form(), cases=LOOKUP),
        SprgDecision,
        "merge_followup",
        "COC-2026-0001",
    ),
    (
        "decision from an unauthenticated team address",
        handle_sprg_decision,
        message("[COC-2026-0001]", sender=TEAM),
        context(decision_form(), cases=LOOKUP),
        Held,
        "quarantine",
        "could not be authenticated",
    ),
    (
        "unauthenticated decision, confirmed by a person",
        handle_sprg_decision,
        message("[COC-2026-0001]", sender=TEAM),
        context(decision_form(), cases=LOOKUP, trusted=True),
        SprgDecision,
        "merge_followup",
        "confirmed by the team",
    ),
    (
        "decision for a meeting still to come",
        handle_sprg_decision,
        message("[COC-2026-0001]", sender=TEAM, auth="pass"),
        context(decision_form("2026-10-15"), cases=LOOKUP),
        Held,
        "quarantine",
        "has not happened yet",
    ),
    (
        "form about another child from the referrer",
        handle_followup,
        message("[COC-2026-0001]", auth="pass"),
        context(form(referral(**{"child.full_name": "Alex Other"})), cases=LOOKUP),
        Held,
        "quarantine",
        "different child",
    ),
    (
        "form about another child, released by a person",
        handle_followup,
        message("[COC-2026-0001]"),
        context(form(referral(**{"child.full_name": "Alex Other"})), cases=LOOKUP, trusted=True),
        FollowUp,
        "merge_followup",
        "carrying a form",
    ),
    (
        "decision from a referrer is not a decision",
        handle_sprg_decision,
        message("[COC-2026-0001]"),
        context(decision_form(), cases=LOOKUP),
        None,
        "",
        "",
    ),
    (
        "team form without an outcome",
        handle_sprg_decision,
        message("[COC-2026-0001]", sender=TEAM),
        context(form(), cases=LOOKUP),
        None,
        "",
        "",
    ),
    (
        "sandbox stopped at cpu, meant as the form",
        handle_referral,
        message(attach=True),
        context(breach_verdict("form.docx", "x", b"data", "cpu")),
        Rejected,
        "reject_attachment",
        "too complex to read automatically",
    ),
    (
        "reader died on the form: a person reads it",
        handle_referral,
        message(attach=True),
        context(breach_verdict("form.docx", "x", b"data", "crash")),
        NewCases,
        "manual_entry",
        "a person will enter it",
    ),
    (
        "reader died on minutes: filed for the team",
        everything,
        message("Minutes of Tuesday", body="Minutes attached.", attach="minutes.pdf"),
        context(breach_verdict("minutes.pdf", "x", b"data", "crash")),
        Filed,
        "not_referral",
        "general correspondence",
    ),
    (
        "message the sandbox could not parse",
        everything,
        replace(message(), stopped_at="wall", sender=None),
        context(),
        Held,
        "quarantine",
        "reading stopped at its time limit",
    ),
]


@pytest.mark.parametrize(
    ("handler", "msg", "ctx", "kind", "action", "words"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_handler(
    handler: Any,
    msg: InboundMessage,
    ctx: HandlerContext,
    kind: type[Outcome] | None,
    action: str,
    words: str,
) -> None:
    outcome = handler(msg, ctx)
    if kind is None:
        assert outcome is None
        return
    assert type(outcome) is kind
    assert outcome.action == action
    assert words in outcome.reason


def test_reasons_never_carry_the_message_text() -> None:
    msg = message("Sam Example, born 02/03/2015", body="Sam Example lives at 1 Road.")
    for handlers_outcome in (
        decide(default_handlers(), msg, context()),
        decide(default_handlers(), msg, context(form())),
    ):
        assert "Sam" not in handlers_outcome.reason and "1 Road" not in handlers_outcome.reason


def test_the_order_puts_automatic_mail_before_everything() -> None:
    # An auto-reply that quotes our tag, carries a form and comes from the team is still
    # only automatic mail: the bot must never answer it (RFC 3834).
    msg = message("[COC-2026-0001] Automatic reply", sender=TEAM, Auto_Submitted="auto-replied")
    outcome = decide(default_handlers(), msg, context(decision_form(), cases=LOOKUP))
    assert (type(outcome), outcome.action) == (Filed, "ignore_auto")


def test_handlers_are_passed_in_not_global() -> None:
    outcome = decide([handle_correspondence], message(), context(form()))
    assert outcome.action == "not_referral"
    assert decide([], message(), context()).action == "quarantine"
