"""The reply's bytes written directly (``compose_wire``) are the bytes the email package
wrote (``compose`` then ``outbound_bytes(..., linesep="\\r\\n")``), on hostile shapes.

Issue 18: the header registry's round trips cost more than the rest of queueing a reply,
so replies are now written directly. These tests hold the two ways to the same bytes
(the MIME boundary is random in both: it is the only thing replaced before comparing),
then read the new bytes back with the standard library's parser (``policy.default``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr
from typing import Any

import pytest
from helpers.outbound_mail import CONTEXTS, ODD_IDS, exchange_id

from mailbot.mail.thread_headers import MAX_REFERENCES, outbound_bytes, parse_thread_index
from mailbot.outbound.compose import compose, make_message_id, render, template_env
from mailbot.outbound.wire import WIRE_POLICY, Rendered, address_header, compose_wire, text_header

OURS = "cscp@example.org"
WHEN = datetime(2026, 10, 12, 9, 15, tzinfo=UTC)
#: Our own ids are as long as Exchange's with a long domain: 100-120 characters.
DOMAIN = "cscp-referrals.croydon-safeguarding-children-partnership.example.org"
EXCHANGE_INDEX = "AQHWLRNo4NaOjvXU8EODe0ZotrA8B6itzaxf"
DESKTOP_INDEX = "AdQc2DN7rLoS3hgnE/O76rpFzxN/EwAddF4A"
RNG = random.Random(18)
#: The shapes of the issue: AM6PR03MB5170... ids of 70-120 characters.
OUTLOOK = [
    "<AM6PR03MB5170B1E2C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5@AM6PR03MB5170.eurprd03.prod.outlook.com>",
    *(exchange_id(RNG, length) for length in (70, 77, 78, 79, 98, 110, 120)),
]
CHAIN = [exchange_id(RNG) for _ in range(60)]
RECIPIENTS = [
    "referrer@school.example.org",
    "Referrer.Name+tag@School.Example.ORG",
    "Zo\u00eb \u0141uczak <zoe@school.example.org>",
    "\u5f20\u4f1f <zhang@example.org>",
    '"Smith, Jane" <jane.smith@example.net>',
    "Jane Smith <jane@example.net>",
    "a..b@example.net",
    "x@localhost",
    "referrer@b\u00fccher.example",
    "very.long.local.part." + "x" * 60 + "@a-very-long-domain-name.example.org",
    "=?utf-8?q?Zo=C3=AB?= <zoe@example.org>",
]
SUBJECTS = [
    "[COC-2026-0001] Referral received",
    " ".join(f"[COC-2026-{n:04d}]" for n in range(15)) + " Referrals received",
    "[COC-2026-0001] Caf\u00e9 r\u00e9f\u00e9rence",
    "[COC-2026-0001]  two  spaces ",
    "RE: FW: =?utf-8?q?x?= Team alert",
    'CSCP queue: 3 cases waiting (\\ " ; < > @ ,)',
    "A" * 75,
]
BODIES = [
    "Thank you.\nYour reference is COC-2026-0001.\n",
    "Caf\u00e9 \u2014 \u00c5ngstr\u00f6m \u2026 \u2028 end\n" + "x" * 200 + "\n",
    "From the team\n.\n--\n-- \n--===============0000000000000000000==\ntrailing   \n\ttab\t\n",
    "crlf\r\nline\rcr\x0cff\x85nel\n",
    "no final newline",
    "",
    "=3D=?utf-8?q?x?= = equals at the end =\n",
]


def _same_boundary(raw: bytes) -> bytes:
    found = re.findall(rb'boundary="(=+\d+==)"', raw)
    assert len(found) == 1, raw[:400]
    return raw.replace(found[0], b"BOUNDARY")


def _both(**kw: Any) -> tuple[bytes, bytes]:
    """(the email package's bytes, compose_wire's bytes), boundary made equal."""
    message = compose(**kw)
    old = outbound_bytes(message, linesep="\r\n")
    new = compose_wire(**kw)
    # what the outbox row keeps in clear, as it took it from the EmailMessage
    assert new.message_id == str(message["Message-ID"]) and new.subject == str(message["Subject"])
    return _same_boundary(old), _same_boundary(new.raw)


def _args(n: int, **over: Any) -> dict[str, Any]:
    refs = [f"COC-2026-{n:04d}"]
    kw: dict[str, Any] = dict(
        rendered=Rendered(SUBJECTS[n % len(SUBJECTS)], BODIES[n % len(BODIES)], f"<p>{n}</p>\n"),
        sender="cscp@example.org",
        recipient=RECIPIENTS[n % len(RECIPIENTS)],
        message_id=make_message_id("reply", refs, WHEN, DOMAIN),
        date=WHEN,
        in_reply_to=OUTLOOK[n % len(OUTLOOK)],
        references=CHAIN[: (n * 7) % 61],
        thread_index=(None, EXCHANGE_INDEX, DESKTOP_INDEX, "not base64!")[n % 4],
        auto=("auto-replied", "auto-generated", "no")[n % 3],
    )
    kw.update(over)
    return kw


@pytest.mark.parametrize("n", range(len(RECIPIENTS) * len(SUBJECTS)))
def test_the_bytes_are_the_email_packages(n: int) -> None:
    old, new = _both(**_args(n))
    assert new == old


@pytest.mark.parametrize(
    "over",
    [
        dict(in_reply_to=None, references=None, thread_index=EXCHANGE_INDEX),
        dict(in_reply_to="not an id", references=CHAIN[:3]),
        dict(references=[*ODD_IDS, "<with space@x>", "<caf\u00e9@example.org>", *CHAIN[:5]]),
        dict(in_reply_to=ODD_IDS[-1], references=list(ODD_IDS[:-1])),
        dict(references=CHAIN, in_reply_to=CHAIN[-1]),
        dict(date=datetime(2026, 7, 1, 8, 0, 59, 999, tzinfo=timezone(timedelta(hours=1)))),
        dict(sender="cscp+bot@mail.example.org"),
        dict(message_id=f"<{'r' * 60}@{DOMAIN}>"),
    ],
)
def test_edge_shapes_are_the_email_packages(over: dict[str, Any]) -> None:
    old, new = _both(**_args(0, **over))
    assert new == old


@pytest.mark.parametrize("template", ["acknowledgement", "request_form"])
def test_a_rendered_template_is_the_email_packages(template: str) -> None:
    context = CONTEXTS[template]
    rendered = render(
        template_env(), template, "[COC-2026-0001] Referral received", urgent_contact="999", **context
    )
    old, new = _both(**_args(2, rendered=rendered))
    assert new == old


def test_a_hostile_reply_reads_back_with_the_standard_parser() -> None:
    """Exchange-length ids everywhere, a chain past the limit, a non-ASCII display name."""
    parent = OUTLOOK[0]
    text = "Thank you, Zo\u00eb.\nYour reference is COC-2026-0004.\n" + "long " * 60 + "\n"
    html = "<p>Thank you, Zo\u00eb.</p>\n"
    wire = compose_wire(
        rendered=Rendered("[COC-2026-0004] Referral received", text, html),
        sender="cscp@example.org",
        recipient="Zo\u00eb \u0141uczak <zoe@school.example.org>",
        message_id=make_message_id("reply", ["COC-2026-0004"], WHEN, DOMAIN),
        date=WHEN,
        in_reply_to=parent,
        references=CHAIN,
        thread_index=EXCHANGE_INDEX,
    )
    raw = wire.raw
    assert b"\n" not in raw.replace(b"\r\n", b"") and raw.endswith(b"\r\n")
    lines = raw.split(b"\r\n")
    for line in lines:  # a line over 78 characters holds one whole id (and the field's name)
        assert len(line) <= 78 or len(line.split(b":", 1)[-1].split()) == 1, line[:60]
    assert max(len(line) for line in lines) <= 998
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?" not in b"".join(line for line in head.split(b"\r\n") if not line.startswith(b"To:"))
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage) and not msg.defects
    assert str(msg["To"]) == "Zo\u00eb \u0141uczak <zoe@school.example.org>"
    assert msg["To"].addresses[0].display_name == "Zo\u00eb \u0141uczak"
    assert str(msg["From"]) == "CSCP referrals <cscp@example.org>"
    assert str(msg["Subject"]) == "[COC-2026-0004] Referral received"
    assert str(msg["Message-ID"]) == wire.message_id and 100 <= len(wire.message_id) <= 120
    assert str(msg["In-Reply-To"]) == parent
    kept = str(msg["References"]).split()
    assert len(kept) == MAX_REFERENCES and kept[0] == CHAIN[0] and kept[-1] == parent
    assert kept[1:-1] == CHAIN[-(MAX_REFERENCES - 2) :]
    assert msg["Date"].datetime == WHEN
    assert (msg["Auto-Submitted"], msg["Precedence"], msg["X-Auto-Response-Suppress"]) == (
        "auto-replied",
        "auto_reply",
        "All",
    )
    index = parse_thread_index(str(msg["Thread-Index"]))
    theirs = parse_thread_index(EXCHANGE_INDEX)
    assert index is not None and theirs is not None and index.header == theirs.header
    assert str(msg["Thread-Topic"]) == "[COC-2026-0004]"
    assert msg.get_content_type() == "multipart/alternative"
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and rich is not None
    # the parts read back as written (their lines end in CRLF on the wire)
    assert plain.get_content().replace("\r\n", "\n") == text
    assert rich.get_content().replace("\r\n", "\n") == html
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"


def test_an_outlook_id_is_never_folded_inside() -> None:
    for msg_id in OUTLOOK:
        raw = compose_wire(**_args(0, in_reply_to=msg_id, references=[msg_id[:-1] + "x>", *OUTLOOK])).raw
        assert raw.count(msg_id.encode()) >= 2  # In-Reply-To and References, each whole


#: Characters a header parser treats specially, mixed into otherwise plain values.
HOSTILE = " .,;:@<>()[]\\\"'=?\t\r\n\x0b\u2028\u00e9\u2014"
ATEXT = "abcXYZ09!#$%&'*+/=?^_`{|}~-"


def _fuzz(rng: random.Random, plain: str, length: int) -> str:
    """Mostly ``plain`` characters; now and then one from ``HOSTILE``."""
    hostile = rng.choice((0.0, 0.02, 0.3))
    return "".join(rng.choice(HOSTILE if rng.random() < hostile else plain) for _ in range(length))


@pytest.mark.parametrize(
    "over",
    [
        dict(sender="c\u00e9scp@example.org"),
        dict(message_id="<not an id>"),
        dict(recipient="referrer@example.org\r\nBcc: someone@example.net"),
        dict(recipient="referrer@example.org\nX-Injected: yes"),
        dict(rendered=Rendered("[COC-2026-0001] Referral\rreceived", "text\n", "<p>html</p>\n")),
        dict(rendered=Rendered("[COC-2026-0001] Referral\u2028received", "text\n", "<p>html</p>\n")),
    ],
)
def test_what_the_email_package_refused_is_refused(over: dict[str, Any]) -> None:
    kw = _args(0, **over)
    with pytest.raises(ValueError) as old:  # UnicodeEncodeError is a ValueError
        compose(**kw)
    with pytest.raises(type(old.value)):
        compose_wire(**kw)


def _outcome(make: Callable[..., tuple[str, str]], *args: str) -> object:
    try:
        return make(*args)
    except Exception as exc:  # noqa: BLE001 - the registry's own bugs: the same either way
        return type(exc)


def _registry(name: str, value: str) -> tuple[str, str]:
    """The header as ``compose()`` stored it and the outbox wrote it."""
    message = EmailMessage()
    message[name] = value
    header = message[name]
    return header.fold(policy=WIRE_POLICY), str(header)


@pytest.mark.parametrize("seed", range(4))
def test_the_plain_header_shortcut_is_what_the_registry_writes(seed: int) -> None:
    """Fuzz: whatever the fast path writes as is, the header registry writes the same
    (or fails the same way: the registry raises on some hostile values)."""
    rng = random.Random(seed)
    taken = 0
    for _ in range(600):
        subject = _fuzz(rng, "abcXYZ09 []-:!(),", rng.randint(0, 90))
        address = (
            _fuzz(rng, ATEXT + "..", rng.randint(1, 40)) + "@" + _fuzz(rng, "abc09.-", rng.randint(1, 40))
        )
        name = _fuzz(rng, "abcXYZ09 ", rng.randint(0, 30))
        named = formataddr((name, OURS))
        ours = _outcome(text_header, "Subject", subject)
        assert ours == _outcome(_registry, "Subject", subject), subject
        taken += ours == (f"Subject: {subject}\r\n", subject)
        ours = _outcome(address_header, "To", address)
        assert ours == _outcome(_registry, "To", address), address
        taken += ours == (f"To: {address}\r\n", address)
        assert _outcome(address_header, "From", OURS, name) == _outcome(_registry, "From", named), name
    assert taken > 300  # the shortcut itself was tried, not only the fallback
