"""Outbound mail the way ``compose()`` makes it, and real-world Message-ID shapes.

``outbound_message`` builds an ``EmailMessage`` shaped as ``mailbot.outbound.compose``
makes it (From, To, Subject, Date, threading headers, auto-reply markers, a
quoted-printable text part and an HTML alternative), with the threading headers set by
``mailbot.mail.thread_headers.set_thread_headers``, without templates or a database (for
the ``mail`` layer's own tests). ``with_headers`` rewrites a sample's headers (an
Exchange-shaped Message-ID, a References chain, a Thread-Index).

``exchange_id`` makes Message-IDs shaped like Exchange Online's (70-120 characters):
``<DB9PR09MB1234...@DB9PR09MB1234.eurprd09.prod.outlook.com>``, including the
upper-case UK form (``...@CWLP265MB1234.GBRP265.PROD.OUTLOOK.COM``).

``CONTEXTS`` holds a context for every mail template, shared by the template tests and
the wire tests so that both render the same replies.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from mailbot.intake.actions.acknowledge import CaseNote
from mailbot.mail.thread_headers import set_thread_headers
from mailbot.sprg.meeting_digest import DigestLine

#: Kinds of outbound mail and whether each answers a message.
KINDS = {
    "reply": ("auto-replied", True),
    "alert": ("auto-generated", False),
    "digest": ("auto-generated", False),
    "reminder": ("auto-generated", True),
    "decision": ("auto-generated", True),  # follows the last reply to the referrer
}

_SERVERS = (
    "DB9PR09MB",
    "AM6PR08MB",
    "VI1PR0802MB",
    "PAXP193MB",
    "DU0PR10MB",
    "CWLP265MB",
    "LO2P123MB",
    "LO4P265MB",
    "LNXP265MB",
    "AS8PR04MB",
    "GV1PR09MB",
    "SJ0PR11MB",
)
_REGIONS = {
    "CWLP265MB": "GBRP265",
    "LO2P123MB": "GBRP123",
    "LO4P265MB": "GBRP265",
    "LNXP265MB": "GBRP265",
    "SJ0PR11MB": "namprd11",
}
_HEX = "0123456789ABCDEF"

#: Valid msg-ids from other senders that look nothing like Exchange's.
ODD_IDS = (
    "<CAF=abc+DEF/ghi_jkl-mno==@mail.gmail.com>",
    "<20261012091500.GA12345@mutt.example>",
    "<a.b+c=d/e?f^g_h{i}j|k~l!m#n$o%p&q'r*s@example.org>",
    "<1234@[192.0.2.1]>",
    "<x@localhost>",
    '<"quoted.local"@example.org>',
    "<0100018f2a3b4c5d-6e7f8091-a2b3-4c5d-8e9f-0a1b2c3d4e5f-000000@email.amazonses.com>",
    "<" + "9" * 440 + "@" + "long.example.org" + "x" * 420 + ">",
)


def exchange_id(rng: random.Random, length: int | None = None) -> str:
    """An Exchange Online-shaped Message-ID of ``length`` characters (70-120)."""
    length = length or rng.randint(70, 120)
    server = rng.choice(_SERVERS)
    host = server + "".join(rng.choice("0123456789") for _ in range(4))
    region = _REGIONS.get(server, f"eurprd{rng.randint(1, 9):02d}")
    right = f"{host}.{region}.prod.outlook.com"
    if region.startswith("GBR") or rng.random() < 0.2:
        right = right.upper()
    fixed = len("<") + len(host) + len("@") + len(right) + len(">")
    if length < fixed + 8:
        raise ValueError(f"{length} is too short for this server name")
    left = host + "".join(rng.choice(_HEX) for _ in range(length - fixed))
    msg_id = f"<{left}@{right}>"
    assert len(msg_id) == length
    return msg_id


def with_headers(raw: bytes, **headers: str | None) -> bytes:
    """``raw`` (CRLF) with each named header replaced (``Message_ID="<...>"``: a value may
    be pre-folded with CRLF + space) or, for None, removed; new ones go at the top."""
    names = {name.replace("_", "-").lower() for name in headers}
    head, _, body = raw.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower() in names
        if not skipping:
            kept.append(line)
    added = [
        f"{name.replace('_', '-')}: {value}".encode() for name, value in headers.items() if value is not None
    ]
    return b"\r\n".join([*added, *kept]) + b"\r\n\r\n" + body


def folded(ids: Sequence[str]) -> str:
    """A msg-id list folded one id a line, as Exchange writes References."""
    return "\r\n ".join(ids)


def outbound_message(
    *,
    kind: str = "reply",
    message_id: str,
    subject: str,
    date: datetime | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    thread_index: str | None = None,
    recipient: str = "referrer@example.net",
) -> EmailMessage:
    auto, _answers = KINDS[kind]
    date = date or datetime(2026, 10, 12, 9, 15, tzinfo=UTC)
    msg = EmailMessage()
    msg["From"] = formataddr(("CSCP referrals", "cscp@example.org"))
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    set_thread_headers(
        msg,
        message_id=message_id,
        date=date,
        in_reply_to=in_reply_to,
        references=list(references),
        parent_thread_index=thread_index,
    )
    msg["Auto-Submitted"] = auto
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "bulk" if auto == "auto-generated" else "auto_reply"
    msg.set_content(f"Thank you. Your referral is {subject}.\n" * 3, cte="quoted-printable")
    msg.add_alternative(
        f"<p>Thank you. Your referral is {subject}.</p>\n", subtype="html", cte="quoted-printable"
    )
    return msg


#: A context for each mail template (``mailbot/templates/mail``), as the bot passes it.
CONTEXTS = {
    "acknowledgement": dict(
        cases=[CaseNote("COC-2026-0001", "received - complete")],
        any_missing=False,
        any_manual=False,
        updated=False,
    ),
    "request_form": dict(ref="COC-2026-0002", missing=["Your Name", "the child's Full Name"]),
    "sealed_received": dict(ref="COC-2026-0004", how="portal"),
    "already_received": dict(ref="COC-2026-0001"),
    "reject_attachment": dict(ref=None, reasons=["The file needs a password to open."]),
    "alert": dict(
        text="A message is held.",
        ref="COC-2026-0003",
        message_row_id="ab12",
        reason="dmarc=fail",
        folder="Quarantine",
    ),
    "chaser": dict(
        ref="COC-2026-0002",
        received="12 October 2026",
        missing=["Your Role"],
        queries=["The date of birth is in the future."],
        whole_form=False,
    ),
    "sprg_decision_notice": dict(ref="COC-2026-0001", meeting="17/12/2026", single="Y", multi="N"),
    "sprg_decision_recorded": dict(ref="COC-2026-0001"),
    "sprg_digest": dict(
        meeting="Thursday 17 December 2026",
        meeting_short="17/12/2026",
        count=2,
        chair="Chair of the Review Group",
        attached=False,
        cases=[
            DigestLine("COC-2026-0001", "Police", "5-10", "Neglect"),
            DigestLine("COC-2026-0002", "Health", "11-15", ""),
        ],
        overdue_actions=[
            (
                "Health",
                [{"ref": "COC-2026-0001", "due": "05/01/2027", "text": "Audit the discharge checklist"}],
            )
        ],
    ),
    "sprg_final_report_reminder": dict(
        ref="COC-2026-0001", due="05/01/2027", when="in 14 days", meeting="17/12/2026"
    ),
    "team_digest": dict(
        today="12 October 2026",
        weekday="Monday",
        counts=[("waiting for referrer", 2), ("ready to schedule", 1)],
        total=3,
        to_enter=[],
        to_schedule=[{"ref": "COC-2026-0003", "days": 2, "overdue": False}],
        flagged=[],
        overdue=[],
        held_messages=1,
        reminded=["COC-2026-0002"],
        waiting=[{"ref": "COC-2026-0002", "days": 8, "overdue": False}],
        chaser_days=7,
        clocks=[{"ref": "COC-2026-0004", "label": "Panel notification", "words": "due 04/01/2027 (overdue)"}],
    ),
    "serious_incident_alert": dict(
        ref="COC-2026-0004",
        aware="23/12/2026",
        clocks=[("Panel notification", "due 04/01/2027"), ("Rapid review", "due 25/01/2027")],
    ),
    "team_message": dict(ref="COC-2026-0001", text="Could you call us about it, please?"),
    "sprg_action_reminder": dict(
        ref="COC-2026-0001",
        due="05/01/2027",
        overdue=True,
        text="Review the discharge checklist",
        agency="Health",
        team="cscp-team@example.org",
    ),
}
