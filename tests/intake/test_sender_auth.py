"""Sender authentication on Microsoft 365, through the whole bot (issue 11, part 2).

Exchange Online writes its Authentication-Results without an authserv-id and puts it
above everything that came with the message. These messages are shaped as Exchange
Online delivers them (its Received line, its header, Received-SPF, X-MS-Exchange-*),
with headers a sender forged further down; each goes through the real pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.bot import eml, make_app
from helpers.pipeline import handled, message_id, outbox_messages, poll

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.intake.release import release

TENANT = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
DOMAIN = "exampleton-primary.example.org"  # mail-01's sender's domain
REFERRER = f"p.testington@{DOMAIN}"
TEAM = "cscp-team@example.org"

OURS_FAIL = (
    f"spf=fail (sender IP is 203.0.113.7) smtp.mailfrom={DOMAIN}; dkim=none\r\n"
    f" (message not signed) header.d=none;dmarc=fail action=quarantine\r\n"
    f" header.from={DOMAIN};compauth=fail reason=000"
)
OURS_PASS = (
    f"spf=pass (sender IP is 40.107.22.44) smtp.mailfrom={DOMAIN}; dkim=pass\r\n"
    f" (signature was verified) header.d={DOMAIN};dmarc=pass action=none\r\n"
    f" header.from={DOMAIN};compauth=pass reason=100"
)
FORGED_PASS = f"mx.cscp.example.org; dmarc=pass (p=reject dis=none) header.from={DOMAIN}"
FORGED_FAIL = f"dmarc=fail action=quarantine header.from={DOMAIN};compauth=fail reason=000"


def exchange_online(
    raw: bytes, results: str, *below: tuple[str, str], from_header: str | None = None, internal: bool = False
) -> bytes:
    """``raw`` as our Exchange Online tenant hands it over: its trace headers on top,
    the sender's own (possibly forged) headers ``below`` them, the old trace removed."""
    head, _, body = raw.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = bool(re.match(rb"(?i)(received|return-path|authentication-results):", line))
        if re.match(rb"(?i)from:", line) and from_header is not None:
            line, skipping = b"From: " + from_header.encode(), True
        if not skipping:
            kept.append(line)
    trace = [
        "Received: from AM6PR08MB4321.eurprd08.prod.outlook.com (2603:10a6:20b:3c::17) by",
        " DB9PR09MB5678.eurprd09.prod.outlook.com with HTTPS; Mon, 5 Oct 2026 08:12:35 +0000",
        f"Authentication-Results: {results}",
        "Received-SPF: None (protection.outlook.com: example.org does not designate",
        " permitted sender hosts)",
        f"X-MS-Exchange-CrossTenant-Id: {TENANT}",
        f"X-MS-Exchange-Organization-AuthAs: {'Internal' if internal else 'Anonymous'}",
        "X-MS-Exchange-Organization-AuthSource: DB9PR09MB5678.eurprd09.prod.outlook.com",
        *(f"{name}: {value}" for name, value in below),
    ]
    return "\r\n".join(trace).encode() + b"\r\n" + b"\r\n".join(kept) + b"\r\n\r\n" + body


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = make_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
        clock,
        MAILBOT_SENDER_AUTH="exchange-online",
        MAILBOT_SENDER_AUTH_TENANT_ID=TENANT,
    )
    yield app
    app.close()


def outcome(app: App, raw: bytes) -> dict:
    app.mailbox.append(raw)
    poll(app)
    app.drainer.drain()
    return handled(app)[message_id("mail-01-referral-complete")]


def to_referrer(app: App) -> list:
    return [m for m in outbox_messages(app) if str(m["To"]) == REFERRER]


def test_dmarc_quarantine_fires_on_a_microsoft_365_message(bot: App) -> None:
    """Ours says fail; a forged pass below it (with our old authserv-id) is ignored."""
    raw = exchange_online(
        eml("mail-01-referral-complete"), OURS_FAIL, ("Authentication-Results", FORGED_PASS)
    )
    got = outcome(bot, raw)
    assert got["action"] == "quarantine"
    assert "dmarc=fail (policy quarantine)" in got["reason"]
    assert "compauth=fail" in got["reason"] and DOMAIN not in got["reason"]
    assert to_referrer(bot) == []  # no reply to a possible spoof
    [alert] = [m for m in outbox_messages(bot) if str(m["To"]) == TEAM]
    assert "Held messages" in alert.get_body(("plain",)).get_content()
    assert bot.mailbox.list_new() == []


def test_before_the_fix_the_same_message_was_answered(tmp_path: Path, clock: FixedClock) -> None:
    """Today's rule (only headers carrying mail.trusted_authserv_id) finds no verdict in
    Exchange Online's header, so the spoof was accepted and answered."""
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}", clock)
    try:
        assert app.settings.sender_auth == "authserv-id"
        got = outcome(app, exchange_online(eml("mail-01-referral-complete"), OURS_FAIL))
        assert got["action"] == "accept"
        assert len(to_referrer(app)) == 1
    finally:
        app.close()


def test_compauth_fail_without_dmarc_is_held(bot: App) -> None:
    results = OURS_FAIL.replace("dmarc=fail action=quarantine", "dmarc=none action=none")
    got = outcome(bot, exchange_online(eml("mail-01-referral-complete"), results))
    assert got["action"] == "quarantine" and "compauth=fail" in got["reason"]
    assert "dmarc=fail" not in got["reason"]


def test_forged_failures_below_ours_are_ignored(bot: App) -> None:
    """Ours says pass: a forged failure further down holds nothing."""
    raw = exchange_online(
        eml("mail-01-referral-complete"),
        OURS_PASS,
        ("Authentication-Results", FORGED_FAIL),
        ("Authentication-Results", FORGED_PASS.replace("pass", "fail")),
    )
    got = outcome(bot, raw)
    assert got["action"] == "accept", got["reason"]
    assert len(to_referrer(bot)) == 1
    assert bot.intake.read(raw).auth.authenticated


def test_a_from_read_two_ways_is_no_sender(bot: App) -> None:
    """CVE-2023-27043's shape: the lenient parser sees two addresses. Neither is answered."""
    raw = exchange_online(
        eml("mail-01-referral-complete"), OURS_PASS, from_header=f"{REFERRER})<attacker@evil.example>"
    )
    got = outcome(bot, raw)
    assert got["action"] == "quarantine" and "no usable sender" in got["reason"]
    assert [m for m in outbox_messages(bot) if str(m["To"]) != TEAM] == []
    assert bot.intake.read(raw).sender is None


def test_a_verdict_for_another_domain_does_not_authenticate(bot: App) -> None:
    results = OURS_PASS.replace(f"header.from={DOMAIN}", "header.from=evil.example")
    auth = bot.intake.read(exchange_online(eml("mail-01-referral-complete"), results)).auth
    assert auth.dmarc == "pass" and not auth.aligned and not auth.authenticated
    assert "another domain" in auth.reason


def test_mail_from_inside_our_tenant_counts_as_authenticated(bot: App) -> None:
    results = OURS_PASS.replace("dmarc=pass action=none", "dmarc=none action=none")
    auth = bot.intake.read(exchange_online(eml("mail-01-referral-complete"), results, internal=True)).auth
    assert auth.internal and auth.authenticated and not auth.quarantine


def test_a_person_releases_the_held_message(bot: App) -> None:
    raw = exchange_online(eml("mail-01-referral-complete"), OURS_FAIL)
    got = outcome(bot, raw)
    assert got["action"] == "quarantine"
    refs = release(bot, got["id"], actor="tess")
    bot.drainer.drain()
    assert refs == ["COC-2026-0001"]
    assert len(to_referrer(bot)) == 1
