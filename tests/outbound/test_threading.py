"""Threading on every kind of mail the bot sends, through the whole bot (issue 11, part 1).

Referrals arrive as Exchange Online sends them (70-120 character Message-IDs, a
References chain of 29 of them, Outlook's Thread-Index); the real pipeline and jobs make
a reply, an alert, the team's digest, a reminder, an SPRG digest and a decision notice;
the drainer writes them to the outbox folder. Each file's bytes are then read back with
``email.headerregistry``, with imapclient's envelope parser, and by a real Dovecot.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from helpers.bot import eml
from helpers.outbound_mail import exchange_id, folded, with_headers
from helpers.servers import DovecotServer
from helpers.sprg import run, sprg_app
from imapclient.response_parser import parse_fetch_response

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.poller import Poller
from mailbot.jobs.morning import morning_jobs
from mailbot.mail.thread_headers import msg_ids, parse_thread_index

#: Our own ids are as long as Exchange's: 100-120 characters with this domain.
DOMAIN = "cscp-referrals.croydon-safeguarding-children-partnership.example.org"
#: Exchange Online's Thread-Index (header block and one child), and desktop Outlook's.
EXCHANGE_INDEX = "AQHWLRNo4NaOjvXU8EODe0ZotrA8B6itzaxf"
DESKTOP_INDEX = "AdQc2DN7rLoS3hgnE/O76rpFzxN/EwAddF4A"
TEAM = "cscp-team@example.org"
RNG = random.Random(11)
#: mail-01 continues a conversation of 29 messages; mail-02 starts one.
CHAIN = [exchange_id(RNG, 70 + (n * 7) % 51) for n in range(29)]
FIRST_ID = exchange_id(RNG, 110)
SECOND_ID = exchange_id(RNG, 120)
THREAD_FIELDS = ("message-id", "in-reply-to", "references", "thread-index")


@dataclass
class Sent:
    name: str
    raw: bytes
    parsed: EmailMessage


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Sent]]:
    """Every kind of outbound mail, made by the bot and written to its outbox folder."""
    tmp = tmp_path_factory.mktemp("threading")
    clock = FixedClock(datetime(2026, 11, 10, 9, 15, tzinfo=UTC))  # a Tuesday
    app = sprg_app(tmp, clock, MAILBOT_MESSAGE_ID_DOMAIN=DOMAIN, MAILBOT_CHASER_DAYS="7")
    try:
        app.mailbox.append(
            with_headers(
                eml("mail-01-referral-complete"),
                Message_ID=FIRST_ID,
                In_Reply_To=CHAIN[-1],
                References=folded(CHAIN),
                Thread_Index=EXCHANGE_INDEX,
            )
        )  # COC-2026-0001
        app.mailbox.append(
            with_headers(eml("mail-02-referral-incomplete"), Message_ID=SECOND_ID, Thread_Index=DESKTOP_INDEX)
        )  # COC-2026-0002, waiting for information
        app.mailbox.append(eml("mail-17-dmarc-fail"))  # held: the team is alerted
        Poller(app).cycle()
        assert (
            run(
                app,
                "outcome",
                "COC-2026-0001",
                "--single",
                "Y",
                "--multi",
                "N",
                "--chair",
                "Dr Review Chair",
                "--force",
            )
            == 0
        )  # the decision notice (before the meeting: forced)
        assert (
            run(app, "agenda", "--meeting", "2026-12-17", "--out", str(tmp / "pack"), "--send") == 0
        )  # the SPRG digest
        clock.advance(days=9)  # seven working days on (Thursday), 09:15 in London: reminder and team digest
        assert morning_jobs(app) is not None
        app.drainer.drain()
        yield classify(app)
    finally:
        app.close()


def classify(app: App) -> dict[str, Sent]:
    folder = Path(app.settings.outbound_url[len("outbox:") :])
    found: dict[str, Sent] = {}
    for path in sorted(folder.glob("*.eml")):
        raw = path.read_bytes()
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        subject, to = str(msg["Subject"]), str(msg["To"])
        name = (
            "alert"
            if to == TEAM and "Action needed" in subject
            else "team digest"
            if to == TEAM
            else "SPRG digest"
            if "SPRG" in subject and "decision" not in subject
            else "reminder"
            if "Reminder" in subject
            else "decision notice"
            if "SPRG decision" in subject
            else "reply 0001"
            if "COC-2026-0001" in subject
            else "reply 0002"
            if "COC-2026-0002" in subject
            else subject
        )
        found.setdefault(name, Sent(name, raw, msg))
    return found


KINDS = ["reply 0001", "reply 0002", "alert", "team digest", "reminder", "SPRG digest", "decision notice"]


def header_lines(raw: bytes) -> dict[str, list[bytes]]:
    """Each header's physical lines, by lower-case name."""
    fields: dict[str, list[bytes]] = {}
    current: list[bytes] = []
    for line in re.split(rb"\r?\n", re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]):
        if line[:1] in (b" ", b"\t") and current:
            current.append(line)
            continue
        current = [line]
        fields.setdefault(line.split(b":", 1)[0].lower().decode(), current)
    return fields


def ids_in(raw: bytes, name: str) -> list[str]:
    lines = header_lines(raw).get(name, [])
    return b" ".join(line.strip() for line in lines).decode().split(":", 1)[-1].split()


def expected(sent: dict[str, Sent]) -> dict[str, tuple[str | None, list[str]]]:
    """(In-Reply-To, References) each kind must carry."""
    ack, request = (str(sent[n].parsed["Message-ID"]) for n in ("reply 0001", "reply 0002"))
    return {
        "reply 0001": (FIRST_ID, [*CHAIN, FIRST_ID]),
        "reply 0002": (SECOND_ID, [SECOND_ID]),
        "reminder": (request, [SECOND_ID, request]),
        "decision notice": (ack, [*CHAIN, FIRST_ID, ack]),
        "alert": (None, []),
        "team digest": (None, []),
        "SPRG digest": (None, []),
    }


def test_every_kind_was_made(sent: dict[str, Sent]) -> None:
    assert sorted(sent) == sorted(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_the_wire_form_is_msg_ids_never_encoded(sent: dict[str, Sent], kind: str) -> None:
    raw = sent[kind].raw
    fields = header_lines(raw)
    for name in THREAD_FIELDS:
        for line in fields.get(name, []):
            assert b"=?" not in line and len(line) <= 998
            if len(line) > 78:  # folded between ids only: a long line holds one id
                assert len(line.split(b":", 1)[-1].split()) == 1, line[:60]
    own = ids_in(raw, "message-id")
    assert len(own) == 1 and 100 <= len(own[0]) <= 120 and own[0].endswith(f"@{DOMAIN}>")
    parent, chain = expected(sent)[kind]
    assert ids_in(raw, "in-reply-to") == ([parent] if parent else [])
    assert ids_in(raw, "references") == chain


@pytest.mark.parametrize("kind", KINDS)
def test_headerregistry_reads_each_id(sent: dict[str, Sent], kind: str) -> None:
    msg = sent[kind].parsed
    parent, chain = expected(sent)[kind]
    message_id = msg["Message-ID"]
    assert not message_id.defects and re.fullmatch(r"<[^<> ]+@[^<> ]+>", str(message_id))
    assert str(msg.get("In-Reply-To") or "") == (parent or "")
    assert str(msg.get("References") or "").split() == chain
    for one in [str(message_id), *chain]:
        header = policy.default.header_factory("Message-ID", one)
        assert str(header) == one and not header.defects


@pytest.mark.parametrize("kind", KINDS)
def test_imapclient_reads_the_envelope(sent: dict[str, Sent], kind: str) -> None:
    """An IMAP ENVELOPE carries the raw header text: built from the file's own bytes."""
    raw = sent[kind].raw
    fields = header_lines(raw)

    def value(name: str) -> bytes:
        lines = fields.get(name)
        if not lines:
            return b"NIL"
        text = b"".join(lines).split(b":", 1)[1].strip()  # unfolded as RFC 5322 says
        return b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'

    line = (
        b"1 (UID 7 ENVELOPE ("
        + value("date")
        + b" "
        + value("subject")
        + b" NIL NIL NIL NIL NIL NIL "
        + value("in-reply-to")
        + b" "
        + value("message-id")
        + b"))"
    )
    [(uid, data)] = parse_fetch_response([line]).items()
    envelope = data[b"ENVELOPE"]
    parent, _chain = expected(sent)[kind]
    assert uid == 7
    assert envelope.message_id.decode() == str(sent[kind].parsed["Message-ID"])
    assert (envelope.in_reply_to.decode() if envelope.in_reply_to else None) == parent


@pytest.mark.dovecot
def test_dovecot_reads_the_envelope_and_references(
    sent: dict[str, Sent], dovecot_account: DovecotServer
) -> None:
    with dovecot_account.client() as client:
        for kind in KINDS:
            client.append("INBOX", sent[kind].raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        client.select_folder("INBOX")
        fetched = client.fetch(client.search("ALL"), ["ENVELOPE", "BODY.PEEK[HEADER.FIELDS (REFERENCES)]"])
    assert len(fetched) == len(KINDS)
    for uid, kind in zip(sorted(fetched), KINDS, strict=True):
        envelope = fetched[uid][b"ENVELOPE"]
        parent, chain = expected(sent)[kind]
        assert envelope.message_id.decode() == str(sent[kind].parsed["Message-ID"])
        assert (envelope.in_reply_to.decode() if envelope.in_reply_to else None) == parent
        refs = fetched[uid][b"BODY[HEADER.FIELDS (REFERENCES)]"]
        assert b"=?" not in refs and msg_ids([refs.decode()]) == chain


def test_outlook_groups_each_conversation(sent: dict[str, Sent]) -> None:
    """Thread-Index continues the referrer's conversation (its GUID); Thread-Topic is
    our case tag, never the inbound subject (which names the child)."""
    index = {kind: parse_thread_index(str(s.parsed["Thread-Index"])) for kind, s in sent.items()}
    assert all(i is not None for i in index.values())
    exchange, desktop = parse_thread_index(EXCHANGE_INDEX), parse_thread_index(DESKTOP_INDEX)
    assert exchange is not None and desktop is not None
    ack, notice = index["reply 0001"], index["decision notice"]
    request, reminder = index["reply 0002"], index["reminder"]
    assert ack and notice and request and reminder
    assert ack.header == notice.header == exchange.header
    assert ack.children[:-1] == exchange.children and notice.children[:-1] == ack.children
    assert request.header == reminder.header == desktop.header
    assert reminder.children[:-1] == request.children
    assert str(sent["reply 0001"].parsed["Thread-Topic"]) == "[COC-2026-0001]"
    assert str(sent["reminder"].parsed["Thread-Topic"]) == "[COC-2026-0002]"
    for kind in KINDS:
        assert b"Thread-Topic: Case of Concern" not in sent[kind].raw
