"""Threading headers: msg-ids never encoded, whatever their length; Outlook's Thread-Index.

Every message is checked the way it leaves the bot: serialised by the outbox, parsed
back as the drainer does, serialised again by the file outbox or smtplib, then read by
``email.headerregistry``, by a real Dovecot (ENVELOPE) and by imapclient's parser. The
same through the whole bot, for every kind of mail: ``tests/outbound/test_threading.py``.
"""

from __future__ import annotations

import base64
import random
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from helpers.outbound_mail import KINDS, ODD_IDS, exchange_id, outbound_message
from helpers.servers import DovecotServer, SmtpServer

from mailbot.mail.sender import OutboxFolderSender
from mailbot.mail.smtp import SmtpSender, SmtpSettings
from mailbot.mail.thread_headers import (
    MAX_CHILD_BLOCKS,
    MAX_REFERENCES,
    OUTBOUND_POLICY,
    ConversationIndex,
    from_filetime,
    is_msg_id,
    msg_ids,
    outbound_bytes,
    parse_thread_index,
    set_thread_headers,
    thread_topic,
)

OURS = "<reply.COC-2026-0004.20261012T091500Z.ab12cd34@cscp.example.org>"
WHEN = datetime(2026, 10, 12, 9, 15, tzinfo=UTC)
SUBJECT = "[COC-2026-0004] Referral received"
#: A Thread-Index written by Exchange Online (header block and one child block).
EXCHANGE_INDEX = "AQHWLRNo4NaOjvXU8EODe0ZotrA8B6itzaxf"
#: Written by desktop Outlook (6-byte time form); decoded by Metaspike's published tool
#: as 2018-07-16 07:40:00.2799616 UTC, one child 14:03:22.5476096 later.
DESKTOP_INDEX = "AdQc2DN7rLoS3hgnE/O76rpFzxN/EwAddF4A"
THREAD_HEADERS = ("message-id", "in-reply-to", "references", "thread-index")


def ids(seed: int, count: int, length: int | None = None) -> list[str]:
    rng = random.Random(seed)
    return [exchange_id(rng, length) for _ in range(count)]


def head_of(raw: bytes) -> bytes:
    return re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]


def folded_between_ids(name: str, msg_ids: list[str], width: int = 78) -> list[bytes]:
    """RFC 5322 folding of a msg-id list, worked out independently: as many ids on a line
    as fit in ``width`` characters, a fold only between two ids."""
    lines = [f"{name}: {msg_ids[0]}"]
    for msg_id in msg_ids[1:]:
        if len(lines[-1]) + 1 + len(msg_id) <= width:
            lines[-1] += f" {msg_id}"
        else:
            lines.append(f" {msg_id}")
    return [line.encode() for line in lines]


def header_block(raw: bytes) -> dict[str, list[bytes]]:
    """Each header's physical lines, by lower-case name, from serialised bytes."""
    fields: dict[str, list[bytes]] = {}
    current: list[bytes] = []
    for line in re.split(rb"\r?\n", head_of(raw)):
        if line[:1] in (b" ", b"\t") and current:
            current.append(line)
            continue
        current = [line]
        fields[line.split(b":", 1)[0].lower().decode()] = current
    return fields


def assert_wire_form(raw: bytes, expect: dict[str, list[str]]) -> None:
    """Each threading header holds exactly the expected ids, unencoded, folded between ids."""
    assert b"=?" not in head_of(raw)
    assert all(len(line) <= 998 for line in re.split(rb"\r?\n", raw))
    fields = header_block(raw)
    for name, wanted in expect.items():
        lines = fields[name]
        value = b" ".join(line.strip() for line in lines).split(b":", 1)[1].split()
        assert [v.decode() for v in value] == wanted, name
        for line in lines:
            # a line longer than 78 holds one id and nothing else (besides the name)
            if len(line) > 78:
                assert len(line.split(b":", 1)[-1].split()) == 1, line[:60]


def drained(raw: bytes) -> EmailMessage:
    """A plain ``policy.default`` parse of the stored bytes: the drainer itself parses with
    ``OUTBOUND_POLICY``, but every sender must write msg-ids right after either."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def reply(in_reply_to: str, references: list[str] | None = None, **kwargs: object) -> EmailMessage:
    return outbound_message(
        message_id=OURS, subject=SUBJECT, in_reply_to=in_reply_to, references=references or [], **kwargs
    )  # type: ignore[arg-type]


# -- msg-ids ---------------------------------------------------------------------------


def test_the_generated_ids_are_exchange_shaped_and_valid_msg_ids() -> None:
    generated = ids(1, 300)
    assert {len(i) for i in generated} >= {70, 120}
    for msg_id in generated:
        assert 70 <= len(msg_id) <= 120
        header = policy.default.header_factory("Message-ID", msg_id)
        assert str(header) == msg_id and not header.defects
        assert re.fullmatch(
            r"<[A-Z0-9]+@[A-Za-z0-9]+\.[A-Za-z0-9]+\.(prod|PROD)\.(outlook|OUTLOOK)"
            r"\.(com|COM)>",
            msg_id,
        )


@pytest.mark.parametrize("length", [70, 77, 78, 79, 98, 110, 120])
def test_a_reply_to_an_exchange_id_carries_it_unencoded(length: int) -> None:
    [parent] = ids(length, 1, length)
    raw = reply(parent).as_bytes()
    assert_wire_form(raw, {"message-id": [OURS], "in-reply-to": [parent], "references": [parent]})
    parsed = drained(raw)
    assert str(parsed["In-Reply-To"]) == parent
    assert str(parsed["References"]) == parent


def test_three_hundred_replies_survive_the_outbox_round_trip() -> None:
    """as_bytes (outbox row) -> parse (drainer) -> bytes (sender), twice, byte-identical."""
    rng = random.Random(7)
    for n in range(300):
        chain = [exchange_id(rng) for _ in range(rng.randint(0, 12))]
        parent = exchange_id(rng)
        stored = reply(parent, chain).as_bytes()
        assert_wire_form(stored, {"in-reply-to": [parent], "references": [*chain, parent]})
        sent = outbound_bytes(drained(stored))
        assert sent == stored, n
        assert outbound_bytes(drained(sent)) == stored
        reparsed = BytesParser(policy=OUTBOUND_POLICY).parsebytes(stored)
        assert reparsed.as_bytes() == stored


def test_crlf_output_for_graph_and_smtp() -> None:
    chain = ids(8, 5, 115)
    stored = reply(chain[-1], chain[:-1]).as_bytes()
    wire = outbound_bytes(drained(stored), linesep="\r\n")
    assert wire == stored.replace(b"\n", b"\r\n")
    assert_wire_form(wire, {"references": chain})


def test_a_chain_of_thirty_long_ids_stays_a_valid_references_field() -> None:
    chain = ids(30, 30, 110)
    raw = reply(chain[-1], chain[:-1]).as_bytes()
    assert_wire_form(raw, {"references": chain, "in-reply-to": [chain[-1]]})
    refs = header_block(raw)["references"]
    assert len(refs) == 30  # one id per line: two 110-character ids never fit in 78
    assert refs[0].startswith(b"References: <") and all(r.startswith(b" <") for r in refs[1:])
    parsed = drained(raw)
    assert str(parsed["References"]).split() == chain
    for msg_id in str(parsed["References"]).split():
        assert not policy.default.header_factory("Message-ID", msg_id).defects


def test_short_ids_share_lines_up_to_78_characters() -> None:
    chain = [f"<{n}.{'x' * 10}@example.org>" for n in range(12)]
    raw = reply(chain[-1], chain[:-1]).as_bytes()
    refs = header_block(raw)["references"]
    assert refs == folded_between_ids("References", chain)
    assert_wire_form(raw, {"references": chain})


def test_a_very_long_chain_keeps_the_root_and_the_newest_ids() -> None:
    chain = ids(60, 60)
    raw = reply(chain[-1], chain[:-1]).as_bytes()
    kept = str(drained(raw)["References"]).split()
    assert len(kept) == MAX_REFERENCES
    assert kept[0] == chain[0] and kept[1:] == chain[-(MAX_REFERENCES - 1) :]


def test_odd_but_valid_ids_are_kept_byte_for_byte() -> None:
    chain = list(ODD_IDS)
    raw = reply(chain[-1], chain[:-1]).as_bytes()
    assert_wire_form(raw, {"references": chain, "in-reply-to": [chain[-1]]})
    assert outbound_bytes(drained(raw)) == raw


@pytest.mark.parametrize(
    "bad",
    [
        "<with space@example.org>",
        "<caf\u00e9@example.org>",
        "<no-at-sign>",
        "<>",
        "<a@b\x01c>",
        "plain@example.org",
        "<" + "a" * 901 + "@example.org>",
    ],
)
def test_ids_that_would_break_a_header_are_left_out(bad: str) -> None:
    assert not is_msg_id(bad)
    [good] = ids(3, 1)
    raw = reply(good, [bad]).as_bytes()
    assert_wire_form(raw, {"references": [good]})
    assert reply(bad, [good]).get("In-Reply-To") is None  # no parent: not threaded at all


def test_a_hostile_references_value_costs_little() -> None:
    hostile = "<" + "a@" * 500_000 + ">" + " <x@y.example>" * 10_000
    found = msg_ids([hostile])
    assert len(found) < 6000


def test_our_own_message_id_must_be_a_msg_id() -> None:
    with pytest.raises(ValueError, match="msg-id"):
        outbound_message(message_id="not-an-id", subject=SUBJECT)


def test_setting_the_headers_twice_replaces_them() -> None:
    [parent] = ids(5, 1)
    msg = reply(parent)
    set_thread_headers(msg, message_id=OURS, date=WHEN, in_reply_to=parent, references=[])
    assert len(msg.get_all("References") or []) == 1
    assert len(msg.get_all("Thread-Index") or []) == 1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_of_outbound_mail(kind: str, tmp_path: Path) -> None:
    _auto, answers = KINDS[kind]
    chain = ids(11, 4, 118)
    own = f"<{kind}.COC-2026-0004.20261012T091500Z.0f1e2d3c@cscp.example.org>"
    msg = outbound_message(
        kind=kind,
        message_id=own,
        subject=f"[COC-2026-0004] {kind}",
        in_reply_to=chain[-1] if answers else None,
        references=chain[:-1] if answers else (),
    )
    OutboxFolderSender(tmp_path).send(drained(msg.as_bytes()))
    [written] = tmp_path.glob("*.eml")
    raw = written.read_bytes()
    expect = {"message-id": [own]}
    if answers:
        expect |= {"in-reply-to": [chain[-1]], "references": chain}
    assert_wire_form(raw, expect)
    parsed = drained(raw)
    assert ("In-Reply-To" in parsed) is answers
    assert parse_thread_index(str(parsed["Thread-Index"])) is not None
    assert parsed["Thread-Topic"] == "[COC-2026-0004]"


# -- through real servers ---------------------------------------------------------------


def test_smtplib_sends_the_drained_message_unencoded(smtp_server: SmtpServer) -> None:
    chain = ids(13, 6, 120)
    stored = reply(chain[-1], chain[:-1], thread_index=EXCHANGE_INDEX).as_bytes()
    sender = SmtpSender(SmtpSettings(smtp_server.host, smtp_server.port, "plain", timeout=5))
    sender.send(drained(stored))
    sender.close()
    [got] = smtp_server.handler.received
    assert_wire_form(got.data, {"in-reply-to": [chain[-1]], "references": chain, "message-id": [OURS]})
    assert str(drained(got.data)["Thread-Index"]) == str(drained(stored)["Thread-Index"])


def test_dovecot_envelope_reads_the_ids(dovecot_account: DovecotServer) -> None:
    """APPEND what the file outbox writes; ENVELOPE and HEADER.FIELDS give the ids back."""
    cases = [ids(17 + n, 8, 70 + 10 * n) for n in range(6)] + [list(ODD_IDS)]
    with dovecot_account.client() as client:
        client.select_folder("INBOX")
        for chain in cases:
            raw = outbound_bytes(drained(reply(chain[-1], chain[:-1]).as_bytes()))
            client.append("INBOX", raw.replace(b"\n", b"\r\n") if b"\r\n" not in raw else raw)
        uids = client.search("ALL")
        fetched = client.fetch(uids, ["ENVELOPE", "BODY.PEEK[HEADER.FIELDS (REFERENCES)]"])
    assert len(fetched) == len(cases)
    for uid, chain in zip(sorted(fetched), cases, strict=True):
        envelope = fetched[uid][b"ENVELOPE"]
        assert envelope.message_id.decode() == OURS
        assert envelope.in_reply_to.decode() == chain[-1]
        refs = fetched[uid][b"BODY[HEADER.FIELDS (REFERENCES)]"]
        assert b"=?" not in refs
        assert msg_ids([refs.decode()]) == chain


def test_imapclient_parses_an_envelope_with_long_ids() -> None:
    from imapclient.response_parser import parse_fetch_response

    chain = ids(19, 3, 120)
    raw = reply(chain[-1], chain[:-1]).as_bytes()
    parsed = drained(raw)

    def q(value: str) -> bytes:
        return b'"' + value.encode() + b'"'

    line = (
        b'1 (UID 7 ENVELOPE ("Mon, 12 Oct 2026 09:15:00 +0000" "'
        + SUBJECT.encode()
        + b'" NIL NIL NIL NIL NIL NIL '
        + q(str(parsed["In-Reply-To"]))
        + b" "
        + q(str(parsed["Message-ID"]))
        + b"))"
    )
    [(uid, data)] = parse_fetch_response([line]).items()
    assert uid == 7
    assert data[b"ENVELOPE"].in_reply_to.decode() == chain[-1]
    assert data[b"ENVELOPE"].message_id.decode() == OURS


# -- Thread-Index ------------------------------------------------------------------------


def test_desktop_outlook_index_decodes_as_published() -> None:
    index = parse_thread_index(DESKTOP_INDEX)
    assert index is not None
    assert from_filetime(index.ticks) == datetime(2018, 7, 16, 7, 40, 0, 279961, tzinfo=UTC)
    [child] = index.child_times()
    assert child - from_filetime(index.ticks) == pytest.approx(
        timedelta(hours=14, minutes=3, seconds=22, microseconds=547609), abs=timedelta(milliseconds=1)
    )


def test_an_exchange_index_is_continued_with_one_child_block() -> None:
    [parent] = ids(23, 1)
    msg = reply(parent, thread_index=EXCHANGE_INDEX)
    ours = parse_thread_index(str(msg["Thread-Index"]))
    theirs = parse_thread_index(EXCHANGE_INDEX)
    assert ours is not None and theirs is not None
    assert ours.header == theirs.header  # same GUID: Outlook's same conversation
    assert ours.children[:-1] == theirs.children and len(ours.children) == 2
    assert from_filetime(theirs.ticks) == datetime(2020, 5, 18, 12, 54, 2, 646732, tzinfo=UTC)
    # our block says "six years after the header": DC=1 form, 2**23 ticks (0.84 s) steps
    assert abs(ours.child_times()[-1] - WHEN) < timedelta(seconds=1)
    assert ours.children[-1][0] & 0x80


def test_a_desktop_index_is_continued_too() -> None:
    msg = outbound_message(
        message_id=OURS,
        subject=SUBJECT,
        in_reply_to=ids(29, 1)[0],
        thread_index=DESKTOP_INDEX,
        date=datetime(2018, 7, 17, 8, 0, tzinfo=UTC),
    )
    ours = parse_thread_index(str(msg["Thread-Index"]))
    assert ours is not None and ours.header == base64.b64decode(DESKTOP_INDEX)[:22]
    last = ours.child_times()[-1]
    assert abs(last - datetime(2018, 7, 17, 8, 0, tzinfo=UTC)) < timedelta(milliseconds=30)
    assert not ours.children[-1][0] & 0x80  # under two years: the fine DC=0 form


def test_without_an_inbound_index_the_guid_comes_from_the_thread_root() -> None:
    chain = ids(31, 3)
    first = reply(chain[0])
    later = outbound_message(
        message_id=OURS.replace("ab12", "cd34"), subject=SUBJECT, in_reply_to=chain[2], references=chain[:2]
    )
    other = reply(ids(37, 1)[0])
    a, b, c = (parse_thread_index(str(m["Thread-Index"])) for m in (first, later, other))
    assert a is not None and b is not None and c is not None
    assert a.guid == b.guid != c.guid
    assert not a.children and len(a.header) == 22 and a.header[:2] == b"\x01\x01"
    assert abs(from_filetime(a.ticks) - WHEN) < timedelta(seconds=2)
    assert str(first["Thread-Index"]).startswith("AQ")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not base64 !!",
        "AQ==",
        "=?utf-8?q?AQHW?=",
        "A" * 5000,
        base64.b64encode(b"\x02" + bytes(21)).decode(),  # reserved byte is not 0x01
        base64.b64encode(b"\x01" + bytes(23)).decode(),  # 24 bytes: not 22 + 5n
    ],
)
def test_a_broken_inbound_index_starts_a_new_conversation(garbage: str) -> None:
    [parent] = ids(41, 1)
    index = parse_thread_index(str(reply(parent, thread_index=garbage)["Thread-Index"]))
    assert index is not None and not index.children


def test_a_deep_index_keeps_the_header_and_the_newest_blocks() -> None:
    theirs = base64.b64decode(EXCHANGE_INDEX)
    deep = base64.b64encode(theirs + bytes(range(5)) * 80).decode()
    raw = reply(ids(43, 1)[0], thread_index=deep).as_bytes()
    assert_wire_form(raw, {})
    ours = parse_thread_index(str(drained(raw)["Thread-Index"]))
    assert ours is not None and ours.header == theirs[:22]
    assert len(ours.children) == MAX_CHILD_BLOCKS


def test_conversation_index_round_trip() -> None:
    index = parse_thread_index(EXCHANGE_INDEX)
    assert isinstance(index, ConversationIndex) and index.encode() == EXCHANGE_INDEX


# -- Thread-Topic ---------------------------------------------------------------------------


def test_the_topic_is_ours_never_the_inbound_subject() -> None:
    """The inbound Thread-Topic/Subject name a child; nothing of them reaches our reply."""
    [parent] = ids(47, 1)
    msg = reply(parent, thread_index=EXCHANGE_INDEX)
    raw = outbound_bytes(drained(msg.as_bytes()))
    assert drained(raw)["Thread-Topic"] == "[COC-2026-0004]"
    assert b"Jane" not in raw and b"Referral for" not in raw


@pytest.mark.parametrize(
    ("subject", "topic"),
    [
        ("[COC-2026-0004] Referral received", "[COC-2026-0004]"),
        ("[coc-2026-0004] [COC-2026-0007] Digest", "[COC-2026-0004] [COC-2026-0007]"),
        ("CSCP queue: 3 cases waiting", "CSCP queue: 3 cases waiting"),
        ("RE: FW: Team alert", "Team alert"),
    ],
)
def test_thread_topic(subject: str, topic: str) -> None:
    assert thread_topic(subject) == topic


def test_a_message_without_subject_gets_no_topic() -> None:
    msg = EmailMessage()
    set_thread_headers(msg, message_id=OURS, date=WHEN)
    assert "Thread-Topic" not in msg and "In-Reply-To" not in msg
    assert msg["Message-ID"] == OURS
