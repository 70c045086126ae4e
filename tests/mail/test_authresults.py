"""Sender authentication: which Authentication-Results count, for which From.

Every case is a real header block as it arrives (parsed from bytes, read with
``raw_headers`` as the reader will), in the shapes Exchange Online, Google and Postfix
with OpenDMARC write, plus forged and hostile ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from mailbot.errors import ConfigError
from mailbot.mail.authresults import (
    MAX_RESULTS_LENGTH,
    SenderAuth,
    domain_key,
    message_sender_auth,
    parse_results,
    raw_headers,
    sender_verdict,
    strict_single_sender,
)
from mailbot.mail.sender_auth_settings import sender_auth_warnings
from mailbot.settings import load_settings

TRUSTED = "mx.cscp.example.org"
TENANT = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
OTHER_TENANT = "9d8c7b6a-5f4e-4d3c-8b2a-19f0e8d7c6b5"
JANE = '"Smith, Jane (CSC)" <jane.smith@croydon.gov.uk>'

# -- header values as their writers write them ------------------------------------------

EXO_PASS = (
    "spf=pass (sender IP is 40.107.22.44) smtp.mailfrom=croydon.gov.uk; dkim=pass "
    "(signature was verified)\r\n header.d=croydon.gov.uk;dmarc=pass action=none\r\n"
    " header.from=croydon.gov.uk;compauth=pass reason=100"
)
EXO_FAIL = (
    "spf=fail (sender IP is 203.0.113.7) smtp.mailfrom=croydon.gov.uk; dkim=none\r\n"
    " (message not signed) header.d=none;dmarc=fail action=quarantine\r\n"
    " header.from=croydon.gov.uk;compauth=fail reason=000"
)
EXO_OREJECT = (
    "spf=fail (sender IP is 203.0.113.7) smtp.mailfrom=croydon.gov.uk; dkim=none "
    "(message not signed) header.d=none;dmarc=fail action=oreject "
    "header.from=croydon.gov.uk;compauth=fail reason=000"
)
EXO_P_NONE = (
    "spf=softfail (sender IP is 198.51.100.9) smtp.mailfrom=croydon.gov.uk; dkim=fail "
    "(body hash did not verify) header.d=croydon.gov.uk;dmarc=fail action=none "
    "header.from=croydon.gov.uk;compauth=softpass reason=201"
)
EXO_NO_DMARC_COMPAUTH_FAIL = (
    "spf=fail (sender IP is 203.0.113.7) smtp.mailfrom=croydon.gov.uk; "
    "dkim=none (message not signed) header.d=none;dmarc=none action=none "
    "header.from=croydon.gov.uk;compauth=fail reason=001"
)
EXO_BESTGUESS = (
    "spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=croydon.gov.uk; dkim=none "
    "(message not signed) header.d=none;dmarc=bestguesspass action=none "
    "header.from=croydon.gov.uk;compauth=pass reason=109"
)
EXO_INTERNAL = (
    "dkim=none (message not signed) header.d=none;dmarc=none action=none header.from=croydon.gov.uk;"
)
INTERNAL_MARKS = [
    ("X-MS-Exchange-Organization-AuthSource", "LO2P123MB4567.GBRP123.PROD.OUTLOOK.COM"),
    ("X-MS-Exchange-Organization-AuthAs", "Internal"),
    ("X-MS-Exchange-Organization-AuthMechanism", "04"),
    ("X-MS-Exchange-CrossTenant-AuthAs", "Internal"),
    ("X-MS-Exchange-CrossTenant-AuthSource", "LO2P123MB4567.GBRP123.PROD.OUTLOOK.COM"),
    ("X-MS-Exchange-CrossTenant-Id", TENANT),
    ("X-MS-Exchange-CrossTenant-FromEntityHeader", "Hosted"),
]
GMAIL_PASS = (
    "mx.google.com;\r\n       dkim=pass header.i=@croydon.gov.uk header.s=selector1 "
    "header.b=AbCdEf12;\r\n       arc=pass (i=1 spf=pass spfdomain=croydon.gov.uk dkim=pass "
    "dkdomain=croydon.gov.uk dmarc=pass fromdomain=croydon.gov.uk);\r\n       spf=pass "
    "(google.com: domain of jane.smith@croydon.gov.uk designates 40.107.22.44 as permitted "
    "sender) smtp.mailfrom=jane.smith@croydon.gov.uk;\r\n       dmarc=pass (p=QUARANTINE "
    "sp=QUARANTINE dis=NONE) header.from=croydon.gov.uk"
)
GMAIL_FAIL = (
    "mx.google.com;\r\n       spf=softfail (google.com: domain of transitioning "
    "x@croydon.gov.uk does not designate 203.0.113.7 as permitted sender) "
    "smtp.mailfrom=x@croydon.gov.uk;\r\n       dmarc=fail (p=QUARANTINE sp=QUARANTINE "
    "dis=QUARANTINE) header.from=croydon.gov.uk"
)
OPENDMARC_PASS = f"{TRUSTED}; dmarc=pass (p=reject dis=none) header.from=croydon.gov.uk"
OPENDMARC_REJECT = f"{TRUSTED}; dmarc=fail (p=reject dis=reject) header.from=croydon.gov.uk"
OPENDMARC_P_NONE = f"{TRUSTED}; dmarc=fail (p=none dis=none) header.from=croydon.gov.uk"
OPENDMARC_NO_POLICY = f"{TRUSTED}; dmarc=fail header.from=croydon.gov.uk"
OPENDKIM = (
    f"{TRUSTED};\r\n\tdkim=pass (2048-bit key; unprotected) header.d=croydon.gov.uk header.i=@croydon.gov.uk"
)
SPF = f"{TRUSTED}; spf=pass smtp.mailfrom=croydon.gov.uk"
FORGED_PASS = "mx.google.com; dmarc=pass (p=reject dis=none) header.from=croydon.gov.uk"


@dataclass
class Case:
    name: str
    results: list[str]
    mode: str = "exchange-online"
    sender: list[str] = field(default_factory=lambda: [JANE])
    extra: list[tuple[str, str]] = field(default_factory=list)
    tenant: str | None = TENANT
    trusted: str = TRUSTED
    expect: dict[str, Any] = field(default_factory=dict)


def message_headers(case: Case) -> tuple[list[tuple[str, str]], list[str]]:
    """The header block as bytes, parsed as the reader parses mail, read raw."""
    lines = [f"Authentication-Results: {v}" for v in case.results]
    lines += [f"{k}: {v}" for k, v in case.extra]
    lines += [f"From: {v}" for v in case.sender]
    lines += ["To: cscp@example.org", "Subject: [COC-2026-0004] form", "Message-ID: <a@b.example>"]
    raw = ("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode("utf-8")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    headers = raw_headers(msg)
    return headers, [v for k, v in headers if k.lower() == "from"]


def verdict(case: Case) -> SenderAuth:
    headers, from_values = message_headers(case)
    return sender_verdict(
        headers, from_values, mode=case.mode, trusted_authserv_id=case.trusted, tenant_id=case.tenant
    )


PASS = {"dmarc": "pass", "aligned": True, "authenticated": True, "quarantine": False}
HELD = {"authenticated": False, "quarantine": True}
UNAUTHENTICATED = {"authenticated": False, "quarantine": False}

CASES = [
    # Exchange Online: the topmost header is our tenant's
    Case("exo pass", [EXO_PASS], expect=PASS | {"compauth": "pass", "dmarc_policy": "none"}),
    Case(
        "exo dmarc fail, quarantine",
        [EXO_FAIL],
        expect=HELD | {"dmarc": "fail", "compauth": "fail", "dmarc_policy": "quarantine"},
    ),
    Case("exo dmarc fail, override reject", [EXO_OREJECT], expect=HELD | {"dmarc_policy": "reject"}),
    Case(
        "exo dmarc fail under p=none, compauth softpass",
        [EXO_P_NONE],
        expect=UNAUTHENTICATED | {"dmarc": "fail", "compauth": "softpass", "dmarc_policy": "none"},
    ),
    Case(
        "exo no dmarc record, compauth fail",
        [EXO_NO_DMARC_COMPAUTH_FAIL],
        expect=HELD | {"dmarc": "none", "compauth": "fail"},
    ),
    Case(
        "exo bestguesspass is not a pass",
        [EXO_BESTGUESS],
        expect=UNAUTHENTICATED | {"dmarc": "bestguesspass", "aligned": True},
    ),
    Case(
        "exo fail, forged passes below ours are ignored",
        [EXO_FAIL, FORGED_PASS, EXO_PASS],
        expect=HELD | {"dmarc": "fail"},
    ),
    Case(
        "exo: only the topmost counts, whatever the ones below look like", [EXO_PASS, EXO_FAIL], expect=PASS
    ),
    Case(
        "exo: a forged pass can only sit below ours; if on top it is taken as ours "
        "(position decides, so our tenant must be the last hop)",
        [FORGED_PASS, EXO_FAIL],
        expect=PASS,
    ),
    Case(
        "exo: our header unreadable, a pass below does not count",
        ["spf=pass (((unclosed", EXO_PASS],
        expect=UNAUTHENTICATED | {"dmarc": None},
    ),
    Case("exo: no header at all", [], expect=UNAUTHENTICATED | {"dmarc": None}),
    Case(
        "exo: google-style header on top with its own authserv-id",
        [GMAIL_PASS],
        expect=PASS | {"dmarc_policy": "quarantine"},
    ),
    # Exchange Online: mail from inside our own tenant
    Case(
        "exo internal sender",
        [EXO_INTERNAL],
        extra=INTERNAL_MARKS,
        expect={"internal": True, "authenticated": True, "quarantine": False, "dmarc": "none"},
    ),
    Case(
        "exo internal marks, no tenant configured",
        [EXO_INTERNAL],
        extra=INTERNAL_MARKS,
        tenant=None,
        expect=UNAUTHENTICATED | {"internal": False},
    ),
    Case(
        "exo internal marks from another tenant",
        [EXO_INTERNAL],
        extra=[(k, OTHER_TENANT if k.endswith("CrossTenant-Id") else v) for k, v in INTERNAL_MARKS],
        expect=UNAUTHENTICATED | {"internal": False},
    ),
    Case(
        "exo mail from another tenant: anonymous here",
        [EXO_PASS.replace("croydon", "sutton")],
        extra=[
            (
                k,
                "Anonymous"
                if k.endswith("Organization-AuthAs")
                else (OTHER_TENANT if k.endswith("CrossTenant-Id") else v),
            )
            for k, v in INTERNAL_MARKS
        ],
        sender=["Sam <sam@sutton.gov.uk>"],
        expect=PASS | {"internal": False},
    ),
    Case(
        "exo internal marks that disagree",
        [EXO_INTERNAL],
        extra=[*INTERNAL_MARKS, ("X-MS-Exchange-Organization-AuthAs", "Anonymous")],
        expect=UNAUTHENTICATED | {"internal": False},
    ),
    Case(
        "exo internal but compauth fail",
        [EXO_NO_DMARC_COMPAUTH_FAIL],
        extra=INTERNAL_MARKS,
        expect=HELD | {"internal": True},
    ),
    Case(
        "exo internal marks ignored under authserv-id",
        [OPENDMARC_P_NONE],
        mode="authserv-id",
        extra=INTERNAL_MARKS,
        expect=UNAUTHENTICATED | {"internal": False, "dmarc": "fail"},
    ),
    # Our own MTA with an authserv-id (Postfix + OpenDKIM + OpenDMARC, or Google)
    Case("opendmarc pass", [OPENDMARC_PASS], mode="authserv-id", expect=PASS),
    Case(
        "opendmarc fail p=reject",
        [OPENDMARC_REJECT],
        mode="authserv-id",
        expect=HELD | {"dmarc_policy": "reject"},
    ),
    Case(
        "opendmarc fail p=none",
        [OPENDMARC_P_NONE],
        mode="authserv-id",
        expect=UNAUTHENTICATED | {"dmarc": "fail", "dmarc_policy": "none"},
    ),
    Case(
        "opendmarc fail, policy not stated: held",
        [OPENDMARC_NO_POLICY],
        mode="authserv-id",
        expect=HELD | {"dmarc_policy": None},
    ),
    Case(
        "one header per milter, dmarc in the third",
        [SPF, OPENDKIM, OPENDMARC_PASS],
        mode="authserv-id",
        expect=PASS,
    ),
    Case(
        "ours first, a forged pass with our id below a foreign header",
        [OPENDMARC_REJECT, "mx.example.net; spf=pass smtp.mailfrom=x", OPENDMARC_PASS],
        mode="authserv-id",
        expect=HELD,
    ),
    Case(
        "ours says nothing of dmarc; a forged one with our id further down does not count",
        [SPF, "mx.example.net; spf=pass smtp.mailfrom=x", OPENDMARC_PASS],
        mode="authserv-id",
        expect=UNAUTHENTICATED | {"dmarc": "none"},
    ),
    Case(
        "a forwarding hop on top, ours below it",
        ["relay.example.net; none", OPENDMARC_PASS],
        mode="authserv-id",
        expect=PASS,
    ),
    Case(
        "only a forged header, not ours",
        [FORGED_PASS],
        mode="authserv-id",
        expect=UNAUTHENTICATED | {"dmarc": None},
    ),
    Case(
        "a look-alike authserv-id",
        [OPENDMARC_PASS.replace(TRUSTED, TRUSTED + ".evil.example")],
        mode="authserv-id",
        expect=UNAUTHENTICATED | {"dmarc": None},
    ),
    Case(
        "exchange's header has no authserv-id: never ours under authserv-id",
        [EXO_PASS],
        mode="authserv-id",
        expect=UNAUTHENTICATED | {"dmarc": None},
    ),
    Case(
        "google as our trusted side",
        [GMAIL_FAIL],
        mode="authserv-id",
        trusted="mx.google.com",
        expect=HELD | {"dmarc_policy": "quarantine"},
    ),
    Case(
        "google pass, ARC comment with its own dmarc=pass",
        [GMAIL_PASS],
        mode="authserv-id",
        trusted="MX.Google.com",
        expect=PASS,
    ),
    Case(
        "ours, no dmarc method in it", [SPF], mode="authserv-id", expect=UNAUTHENTICATED | {"dmarc": "none"}
    ),
    Case("none: nothing is read", [OPENDMARC_REJECT], mode="none", expect=UNAUTHENTICATED | {"dmarc": None}),
    # the From the bot acts on
    Case(
        "two From headers",
        [EXO_PASS],
        sender=[JANE, "x@croydon.gov.uk"],
        expect={"dmarc": "pass", "aligned": False, "authenticated": False},
    ),
    Case(
        "two addresses in one From",
        [EXO_PASS],
        sender=[JANE + ", eve@evil.example"],
        expect={"aligned": False, "authenticated": False},
    ),
    Case(
        "CVE-2023-27043 shape",
        [EXO_PASS],
        sender=["jane.smith@croydon.gov.uk)<eve@evil.example>"],
        expect={"aligned": False, "authenticated": False},
    ),
    Case(
        "CVE shape the other way round",
        [EXO_PASS.replace("croydon.gov.uk", "evil.example")],
        sender=["eve@evil.example)<jane.smith@croydon.gov.uk>"],
        expect={"authenticated": False},
    ),
    Case(
        "escaped quotes in the display name",
        [EXO_PASS],
        sender=['"O\'Brien, \\"Sean\\" <x@evil.example>" <sean.obrien@croydon.gov.uk>'],
        expect=PASS,
    ),
    Case(
        "encoded display name",
        [EXO_PASS],
        sender=["=?utf-8?q?J=C3=A1ne_Sm=C3=ADth=2C_CSC?= <jane.smith@croydon.gov.uk>"],
        expect=PASS,
    ),
    Case("raw UTF-8 display name", [EXO_PASS], sender=['"Séan Ó Briain" <s@croydon.gov.uk>'], expect=PASS),
    Case(
        "IDN From, A-label verdict",
        [EXO_PASS.replace("croydon.gov.uk", "xn--mnchen-3ya.example")],
        sender=["Jürgen <j@münchen.example>"],
        expect=PASS,
    ),
    Case("upper-case From domain", [EXO_PASS], sender=["JANE.SMITH@CROYDON.GOV.UK"], expect=PASS),
    Case(
        "subdomain From, verdict for the parent domain",
        [EXO_PASS],
        sender=["j@social.croydon.gov.uk"],
        expect={"aligned": False, "authenticated": False},
    ),
    Case(
        "parent From, verdict for a subdomain",
        [EXO_PASS.replace("header.from=croydon", "header.from=social.croydon")],
        expect={"aligned": False, "authenticated": False},
    ),
    Case("no From", [EXO_PASS], sender=[], expect={"authenticated": False}),
    Case(
        "From without a domain",
        [EXO_PASS],
        sender=["Undisclosed recipients"],
        expect={"authenticated": False},
    ),
    Case("garbage Authentication-Results", ["\x01\x02 ;;; @@@ ((("], expect=UNAUTHENTICATED),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sender_verdict(case: Case) -> None:
    result = verdict(case)
    got = {key: getattr(result, key) for key in case.expect}
    assert got == case.expect, result.reason
    assert result.reason
    for word in ("croydon", "jane", "sutton", "evil", "münchen", "mnchen"):
        assert word not in result.reason.lower()  # plain words, no addresses or domains


def test_the_readers_call_on_a_whole_message() -> None:
    raw = (
        f"Authentication-Results: {EXO_FAIL}\r\n"
        "Received: from mail.example.net by mx.example.net; Mon, 12 Oct 2026 09:14:00 +0000\r\n"
        f"Authentication-Results: {FORGED_PASS}\r\n"
        f"From: {JANE}\r\nTo: cscp@example.org\r\nSubject: [COC-2026-0004] form\r\n"
        "\r\nbody\r\n"
    ).encode()
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    sender, auth = message_sender_auth(msg, mode="exchange-online", tenant_id=TENANT)
    assert sender == "jane.smith@croydon.gov.uk"
    assert auth.quarantine and not auth.authenticated and auth.dmarc == "fail"
    sender, auth = message_sender_auth(msg, mode="authserv-id", trusted_authserv_id="mx.google.com")
    assert auth.authenticated  # the forged header, believed only because we said it is ours


def test_a_pass_never_authenticates_while_held() -> None:
    for case in CASES:
        result = verdict(case)
        assert not (result.authenticated and result.quarantine), case.name
        assert not result.authenticated or result.aligned or result.internal, case.name


# -- the From --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sender"),
    [
        ("jane.smith@croydon.gov.uk", "jane.smith@croydon.gov.uk"),
        ("<jane.smith@croydon.gov.uk>", "jane.smith@croydon.gov.uk"),
        ("Jane Smith <Jane.Smith@Croydon.gov.uk>", "jane.smith@croydon.gov.uk"),
        (JANE, "jane.smith@croydon.gov.uk"),
        ("J. Smith <j@croydon.gov.uk>", "j@croydon.gov.uk"),  # obsolete, not ambiguous
        ("j@croydon.gov.uk (Jane Smith)", "j@croydon.gov.uk"),
        ('"a@evil.example" <b@croydon.gov.uk>', "b@croydon.gov.uk"),
        ("=?utf-8?q?a=40evil.example?= <b@croydon.gov.uk>", "b@croydon.gov.uk"),
        ("j@münchen.example", "j@münchen.example"),
        # an encoded word inside quotes (seen in the peer-mail corpus): odd, but one address
        ('"=?Windows-1252?B?Rm9ybWHn428=?=" <info@example.org>', "info@example.org"),
        ('"=?utf-8?q?a@evil.example?=" <b@croydon.gov.uk>', "b@croydon.gov.uk"),
        ("a@x.example)<b@y.example>", None),
        ("a@x.example <b@y.example>", None),
        ("a@x.example, b@y.example", None),
        ("=?utf-8?q?a@evil.example?= <b@croydon.gov.uk>", None),  # the lenient parser sees two
        ("Smith, Jane <jane@croydon.gov.uk>", None),  # an unquoted comma: two mailboxes
        ("Team: a@x.example;", None),
        ("a@[192.0.2.1]", None),
        ("a@localhost", None),
        ("Undisclosed", None),
        ("", None),
        ("<<a@x.example>>", None),
        ("a@x.example>", None),  # both parsers find one address, the strict one a broken header
    ],
)
def test_strict_single_sender(value: str, sender: str | None) -> None:
    assert strict_single_sender([value]) == sender


def test_several_from_headers_have_no_single_sender() -> None:
    assert strict_single_sender(["a@x.example", "a@x.example"]) is None
    assert strict_single_sender([]) is None


def test_raw_8bit_from_is_read_as_utf8() -> None:
    headers, from_values = message_headers(Case("x", [], sender=['"Séan" <s@croydon.gov.uk>']))
    assert "\udcc3" in from_values[0]  # what the parser hands over for raw UTF-8
    assert strict_single_sender(from_values) == "s@croydon.gov.uk"


@pytest.mark.parametrize(
    ("a", "b"), [("münchen.example", "xn--mnchen-3ya.example"), ("Croydon.GOV.uk.", "croydon.gov.uk")]
)
def test_domain_key(a: str, b: str) -> None:
    assert domain_key(a) == domain_key(b) is not None


# -- hostile input is cheap ---------------------------------------------------------------


def test_a_64k_authentication_results_is_refused_quickly() -> None:
    big = "spf=pass " + "; ".join(f"dkim=pass (sig {i}) header.d=d{i}.example" for i in range(2000))
    big = big[: 64 * 1024]
    started = time.perf_counter()
    assert parse_results(big) is None
    result = sender_verdict([("Authentication-Results", big)] * 60, [JANE], mode="exchange-online")
    assert not result.authenticated and result.dmarc is None
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize("mode", ["authserv-id", "exchange-online"])
def test_many_headers_at_the_size_limit_stay_fast(mode: str) -> None:
    """The costliest shape for authres measured here (bad properties), 10,000 times."""
    value = (TRUSTED + "; dmarc=pass " + "zz.y=1 " * 600)[:MAX_RESULTS_LENGTH]
    if mode == "exchange-online":
        value = value.split("; ", 1)[1]
    started = time.perf_counter()
    result = sender_verdict(
        [("Authentication-Results", value)] * 10_000, [JANE], mode=mode, trusted_authserv_id=TRUSTED
    )
    elapsed = time.perf_counter() - started
    assert not result.authenticated
    assert elapsed < 1.0, elapsed  # about 0.14 s here; authres takes 70 ms per header


def test_a_megabyte_from_has_no_single_sender_and_costs_nothing() -> None:
    started = time.perf_counter()
    assert strict_single_sender(["a" * 1_000_000 + "@x.example"]) is None
    assert strict_single_sender(['"' + "," * 1_000_000 + '" <a@x.example>']) is None
    assert time.perf_counter() - started < 0.05


def test_nested_comments_do_not_crash() -> None:
    value = "dmarc=pass " + "(" * 1500 + ")" * 1500 + " header.from=croydon.gov.uk"
    parse_results(value)  # authres recurses per "(": a RecursionError must not escape
    result = sender_verdict([("Authentication-Results", value)], [JANE], mode="exchange-online")
    assert not result.quarantine


def test_parse_results_keeps_the_policy_text() -> None:
    parsed = parse_results(EXO_FAIL)
    assert parsed is not None and parsed.authserv_id is None
    dmarc = parsed.first("dmarc")
    assert dmarc is not None and dmarc.properties["header.from"] == "croydon.gov.uk"
    assert "action=quarantine" in dmarc.text
    compauth = parsed.first("compauth")
    assert compauth is not None and (compauth.result, compauth.reason) == ("fail", "000")


def test_unknown_mode_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="mode"):
        sender_verdict([], [JANE], mode="dmarc")


# -- settings and `mailbot check` ---------------------------------------------------------


def settings(tmp_path: Path, **env: str) -> Any:
    return load_settings(env=env, base_dir=tmp_path)


def test_default_is_none_without_an_authserv_id(tmp_path: Path) -> None:
    assert settings(tmp_path).sender_auth == "none"


def test_default_is_authserv_id_with_one(tmp_path: Path) -> None:
    got = settings(tmp_path, MAILBOT_TRUSTED_AUTHSERV_ID=TRUSTED)
    assert got.sender_auth == "authserv-id"


def test_exchange_online_with_a_tenant(tmp_path: Path) -> None:
    got = settings(
        tmp_path, MAILBOT_SENDER_AUTH="Exchange-Online", MAILBOT_SENDER_AUTH_TENANT_ID=TENANT.upper()
    )
    assert (got.sender_auth, got.sender_auth_tenant_id) == ("exchange-online", TENANT)


def test_the_tenant_defaults_to_the_m365_tenant_when_it_is_a_guid(tmp_path: Path) -> None:
    m365 = {"MAILBOT_M365_CLIENT_ID": "app", "MAILBOT_M365_CLIENT_SECRET": "s"}
    got = settings(tmp_path, MAILBOT_SENDER_AUTH="exchange-online", MAILBOT_M365_TENANT_ID=TENANT, **m365)
    assert got.sender_auth_tenant_id == TENANT
    got = settings(
        tmp_path,
        MAILBOT_SENDER_AUTH="exchange-online",
        MAILBOT_M365_TENANT_ID="croydon.onmicrosoft.com",
        **m365,
    )
    assert got.sender_auth_tenant_id is None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAILBOT_SENDER_AUTH": "dmarc"}, "MAILBOT_SENDER_AUTH"),
        ({"MAILBOT_SENDER_AUTH": "authserv-id"}, "MAILBOT_TRUSTED_AUTHSERV_ID"),
        (
            {"MAILBOT_SENDER_AUTH": "exchange-online", "MAILBOT_SENDER_AUTH_TENANT_ID": "croydon"},
            "MAILBOT_SENDER_AUTH_TENANT_ID",
        ),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, **env)
    assert info.value.setting == named


def test_a_bad_value_in_the_file_names_the_toml_key(tmp_path: Path) -> None:
    config = tmp_path / "mailbot.toml"
    config.write_text('[mail]\nsender_auth = "exchange"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config, env={}, base_dir=tmp_path)
    assert info.value.setting == "mail.sender_auth"


def test_check_warns_when_sender_auth_is_none(tmp_path: Path) -> None:
    [warning] = sender_auth_warnings(settings(tmp_path))
    assert "DMARC" in warning and "never held" in warning


def test_check_warnings_for_the_other_modes(tmp_path: Path) -> None:
    assert sender_auth_warnings(settings(tmp_path, MAILBOT_TRUSTED_AUTHSERV_ID=TRUSTED)) == []
    exo = settings(tmp_path, MAILBOT_SENDER_AUTH="exchange-online")
    [warning] = sender_auth_warnings(exo)
    assert "mail.sender_auth_tenant_id" in warning
    exo = settings(tmp_path, MAILBOT_SENDER_AUTH="exchange-online", MAILBOT_SENDER_AUTH_TENANT_ID=TENANT)
    assert sender_auth_warnings(exo) == []
