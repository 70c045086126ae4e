"""Who really sent a message: the Authentication-Results our own side wrote, and the From.

A sender can write any header it likes, including ``Authentication-Results:
dmarc=pass``. Only a header our own receiving side wrote says anything, and which one
that is depends on how mail reaches us (``mail.sender_auth``):

``authserv-id``
    Our own MTA (Postfix with OpenDMARC, rspamd, a gateway) stamps its authserv-id
    (``mail.trusted_authserv_id``) and removes look-alikes (RFC 8601 section 5). The
    first header from the top with that authserv-id is believed (the bot's rule until
    now), with those right below it that carry it too (a milter per check writes one
    header each).
``exchange-online``
    Exchange Online writes its header with **no** authserv-id (``spf=pass (sender IP is
    ...) smtp.mailfrom=...; dkim=...; dmarc=fail action=quarantine header.from=...;
    compauth=fail reason=000``), so the rule above never finds it. Our tenant prepends
    its header when it accepts the message, so ours is the **topmost** one; anything
    below came with the message and is ignored, whatever it claims. Its ``compauth``
    (Microsoft's composite verdict, which also covers domains without DMARC) counts too.
    Mail sent inside our own tenant carries no DMARC verdict worth having; Exchange
    marks it ``X-MS-Exchange-Organization-AuthAs: Internal`` (an organisation header,
    which Exchange's header firewall strips from anything arriving from outside) and
    ``X-MS-Exchange-CrossTenant-Id: <our tenant id>``. With our tenant id configured,
    both together count as authenticated.
``none``
    No header is believed: nothing is authenticated and nothing is held for DMARC.

A verdict counts only for the From the bot acts on: the DMARC result's ``header.from``
must be exactly the From address's domain. This is an identity check, not DMARC
alignment: the receiving MTA has already done relaxed or strict alignment of SPF and
DKIM against that domain; what is checked here is that its verdict is about the same
From the bot reads (not a second From header, or a subdomain). So
``social.council.example`` is not ``council.example``, and comparison is on the IDNA
(A-label) form, case-insensitive, trailing dot ignored.

A From with more than one address, or one that the strict parser (``email.headerregistry``)
and the lenient one (``email.utils.getaddresses``, which on Python 3.11.7 still has
CVE-2023-27043: ``a@x.example)<b@y.example>`` gives two addresses) read differently,
has no single sender (:func:`strict_single_sender`): it is never authenticated.

Parsing is done by ``authres`` (the maintained RFC 8601 parser behind dkimpy and
authheaders). It requires an authserv-id, so an Exchange Online header (which starts
straight with ``spf=``) gets a synthetic one (``exchange-online.invalid``, a reserved
name no real server has) before parsing; a trailing ``;`` (Exchange writes one) is
dropped. ``authres`` discards comments and non-RFC tokens, which is where the DMARC
policy lives (OpenDMARC and Google: ``dmarc=fail (p=reject dis=none)``; Exchange:
``action=quarantine``), so a thin subclass keeps each result's own text and the policy
is read from that. Work is bounded (``authres`` is quadratic in a header's length: a
hostile 4 KB header costs it 150 ms): a header over 2 KB is not parsed (real ones are
under 1 KB), at most 50 Authentication-Results are looked at and at most 4 KB of them
parsed, and a From over 1 KB has no single sender (the address parsers are quadratic on
some shapes: 0.4 s at 2 KB). Measured worst cases a message: about 0.15 s for its
Authentication-Results, 0.2 s for its From.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email import policy as email_policy
from email.errors import InvalidHeaderDefect, MessageDefect, NonPrintableDefect
from email.headerregistry import Group
from email.message import Message
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

import authres
import authres.core
import authres.dmarc

if TYPE_CHECKING:
    pass

MODES = ("authserv-id", "exchange-online", "none")
SYNTHETIC_AUTHSERV_ID = "exchange-online.invalid"
MAX_RESULTS_LENGTH = 2 * 1024
MAX_RESULTS_HEADERS = 50
#: Our side writes a header per check at most (SPF, DKIM, DMARC, ARC): a few hundred
#: characters each. Parsing stops when the headers read add up to more than this.
MAX_OWN_TEXT = 4 * 1024
MAX_FROM_LENGTH = 1024  # a real From is a name and an address, well under a line (998)
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: A value that starts with ``method=`` (or ``method/1=``) has no authserv-id before it.
_NO_AUTHSERV_ID = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9_.-]*\s*(?:/\s*\d+\s*)?=")
_ACTION = re.compile(r"\baction\s*=\s*([a-z.]+)", re.IGNORECASE)
_COMMENT = re.compile(r"\(([^()]*)\)")
_COMMENT_POLICY = re.compile(r"\b(?:p|sp|dis)\s*=\s*([a-z]+)", re.IGNORECASE)
#: Defects about how a display name's encoded words are spaced or quoted, which many
#: real mailers write (``"=?Windows-1252?B?...?=" <a@x.example>``): not about the address.
_NAME_ONLY_DEFECTS = frozenset(
    {
        "encoded word inside quoted string",
        "missing trailing whitespace after encoded-word",
        "missing whitespace before encoded word",
    }
)


# -- the From address ---------------------------------------------------------------------


def _text(value: str) -> str:
    """Unfolded text; raw 8-bit bytes (surrogate-escaped by the parser) read as UTF-8."""
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return re.sub(r"\r?\n(?=[ \t])", "", value)


def strict_single_sender(from_values: Sequence[str]) -> str | None:
    """The one address in the one From header, lower-case; None when that is in doubt.

    None for: no From, several From headers, several addresses, a group, an address
    without a domain or with a domain literal, a header the strict parser finds broken
    (beyond a display name's encoded-word spacing), a header the strict and the lenient
    parser read differently (CVE-2023-27043), a header over 1 KB. Pass raw header values.
    """
    if len(from_values) != 1 or len(from_values[0]) > MAX_FROM_LENGTH:
        return None
    value = _text(from_values[0])
    try:
        header = email_policy.default.header_factory("From", value)
        groups: tuple[Group, ...] = header.groups
        defects: tuple[MessageDefect, ...] = header.defects
        lenient = [addr for _name, addr in getaddresses([value]) if addr]
    except Exception:  # noqa: BLE001 - a parser failure on hostile input: no single sender
        return None
    if any(
        isinstance(d, InvalidHeaderDefect | NonPrintableDefect) and str(d) not in _NAME_ONLY_DEFECTS
        for d in defects
    ):
        return None
    if len(groups) != 1 or groups[0].display_name is not None or len(groups[0].addresses) != 1:
        return None
    address = groups[0].addresses[0]
    domain = address.domain
    if not address.username or "." not in domain.strip(".") or domain.startswith("["):
        return None
    spec = address.addr_spec.lower()
    if [addr.lower() for addr in lenient] != [spec]:
        return None
    return spec


def domain_key(domain: str | None) -> str | None:
    """A domain for comparison: lower-case A-labels, no trailing dot; None if unusable."""
    if not domain:
        return None
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


# -- Authentication-Results ----------------------------------------------------------------


class _Header(authres.core.AuthenticationResultsHeader):  # type: ignore[misc]
    """authres's header parser, keeping each result's own text (comments included)."""

    def _parse_resinfo(self) -> Any:
        before = self._parse_text
        result = super()._parse_resinfo()
        if result is not None and result is not self.NONE_RESULT:
            result.raw_text = before[: len(before) - len(self._parse_text)]
        return result


_FEATURES = authres.FeatureContext(authres.dmarc, types.SimpleNamespace(AuthenticationResultsHeader=_Header))


@dataclass(frozen=True)
class MethodResult:
    method: str
    result: str
    reason: str | None
    properties: Mapping[str, str]
    text: str


@dataclass(frozen=True)
class ResultsHeader:
    authserv_id: str | None  # None: the header had none (Exchange Online)
    results: tuple[MethodResult, ...]

    def first(self, method: str) -> MethodResult | None:
        return next((r for r in self.results if r.method == method), None)


def parse_results(value: str) -> ResultsHeader | None:
    """One Authentication-Results value, or None when it cannot be read (or is too long)."""
    if len(value) > MAX_RESULTS_LENGTH:
        return None
    text = " ".join(_text(value).split()).rstrip("; ")
    synthetic = bool(_NO_AUTHSERV_ID.match(text))
    if synthetic:
        text = f"{SYNTHETIC_AUTHSERV_ID}; {text}"
    try:
        parsed = _FEATURES.parse_value(text)
        results = tuple(_result(r) for r in parsed.results)
    except Exception:  # noqa: BLE001 - authres on hostile text (it recurses per comment and
        # raises its own errors, RecursionError, ...): any failure is an unreadable header
        return None
    return ResultsHeader(None if synthetic else str(parsed.authserv_id).lower(), results)


def _result(result: Any) -> MethodResult:
    properties = {
        f"{p.type}.{p.name}".lower(): str(p.value) for p in result.properties if p.value is not None
    }
    return MethodResult(
        str(result.method).lower(),
        str(result.result).lower(),
        None if result.reason is None else str(result.reason),
        properties,
        str(getattr(result, "raw_text", "")),
    )


def dmarc_policy(result: MethodResult) -> str | None:
    """The DMARC policy stated with a result: quarantine, reject, none, or None (unstated).

    Read from Exchange's ``action=``, OpenDMARC's and Google's ``(p=... sp=... dis=...)``
    comment, or a ``policy.dmarc`` property; the strictest one stated wins.
    """
    words = [m.lower() for m in _ACTION.findall(result.text)]
    for comment in _COMMENT.findall(result.text):
        words += [m.lower() for m in _COMMENT_POLICY.findall(comment)]
    if "policy.dmarc" in result.properties:
        words.append(result.properties["policy.dmarc"].lower())
    for strict in ("reject", "quarantine"):
        if any(strict in word for word in words):
            return strict
    return "none" if words and all(word.endswith("none") for word in words) else None


# -- the verdict --------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderAuth:
    """What our own side said about the sender, for the From the bot acts on.

    ``reason`` is plain words without any address or domain (it goes into logs and
    onto the held-messages page).
    """

    mode: str
    dmarc: str | None = None  # pass, fail, none, bestguesspass, ...; None: no verdict read
    compauth: str | None = None  # Exchange Online only
    dmarc_policy: str | None = None
    aligned: bool = False
    internal: bool = False
    authenticated: bool = False
    quarantine: bool = False
    reason: str = ""


def _values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    name = name.lower()
    return [value for key, value in headers if key.lower() == name]


def _chosen(
    headers: Sequence[tuple[str, str]], mode: str, trusted_authserv_id: str | None
) -> tuple[ResultsHeader | None, str]:
    """The Authentication-Results our own side wrote, merged; or why there is none."""
    values = _values(headers, "authentication-results")[:MAX_RESULTS_HEADERS]
    if mode == "exchange-online":
        if not values:
            return None, "no Authentication-Results from our Exchange Online"
        parsed = parse_results(values[0])
        return parsed, "" if parsed else "our Exchange Online's Authentication-Results is unreadable"
    # Our MTA may write one header per check (OpenDKIM, SPF, OpenDMARC each add one), all
    # above anything that came with the message: the first header with our authserv-id
    # and the ones right after it that also carry it. A header that starts with our id
    # but cannot be read is ours and says nothing; it does not let a later one count.
    trusted = (trusted_authserv_id or "").strip().lower()
    run: list[MethodResult] = []
    started = False
    budget = MAX_OWN_TEXT
    for value in values:
        if not _text(value).lstrip().lower().startswith(trusted):
            if started:
                break
            continue  # cheap test first: only headers that could be ours are parsed
        budget -= len(value)
        if budget < 0:
            break
        parsed = parse_results(value)
        if parsed is not None and parsed.authserv_id != trusted:
            if started:
                break
            continue  # e.g. mx.cscp.example.org.evil.example
        started = True
        run.extend(parsed.results if parsed else ())
    if not started:
        return None, "no Authentication-Results from our own mail server"
    return ResultsHeader(trusted, tuple(run)), ""


def _internal(headers: Sequence[tuple[str, str]], tenant_id: str | None) -> bool:
    """Exchange marks mail sent inside our tenant; every copy of each mark must agree."""
    if not tenant_id:
        return False
    auth_as = [v.strip().lower() for v in _values(headers, "x-ms-exchange-organization-authas")]
    tenants = [v.strip().lower() for v in _values(headers, "x-ms-exchange-crosstenant-id")]
    cross = [v.strip().lower() for v in _values(headers, "x-ms-exchange-crosstenant-authas")]
    return (
        bool(auth_as)
        and all(v == "internal" for v in auth_as)
        and bool(tenants)
        and all(v == tenant_id.lower() for v in tenants)
        and all(v == "internal" for v in cross)
    )


def raw_headers(msg: Message) -> list[tuple[str, str]]:
    """A parsed message's header fields, top to bottom, as they arrived (not decoded)."""
    return [(str(name), str(value)) for name, value in msg.raw_items()]


def message_sender_auth(
    msg: Message, *, mode: str, trusted_authserv_id: str | None = None, tenant_id: str | None = None
) -> tuple[str | None, SenderAuth]:
    """For the reader: the one sender (or None) and the sender check of a parsed message."""
    headers = raw_headers(msg)
    from_values = [value for name, value in headers if name.lower() == "from"]
    auth = sender_verdict(
        headers, from_values, mode=mode, trusted_authserv_id=trusted_authserv_id, tenant_id=tenant_id
    )
    return strict_single_sender(from_values), auth


def sender_verdict(
    headers: Sequence[tuple[str, str]],
    from_values: Sequence[str],
    *,
    mode: str,
    trusted_authserv_id: str | None = None,
    tenant_id: str | None = None,
) -> SenderAuth:
    """Read the sender check for one message. Pure; never raises for malformed input.

    ``headers`` are the message's header fields top to bottom (``msg.raw_items()``),
    ``from_values`` the raw values of its From headers.
    """
    if mode not in MODES:
        raise ValueError(f"unknown sender_auth mode {mode!r}")
    if mode == "none":
        return SenderAuth(mode, reason="sender authentication is off (mail.sender_auth = none)")
    sender = strict_single_sender(from_values)
    from_domain = domain_key(sender.rpartition("@")[2]) if sender else None
    header, problem = _chosen(headers, mode, trusted_authserv_id)
    internal = mode == "exchange-online" and sender is not None and _internal(headers, tenant_id)
    dmarc = compauth = policy = None
    aligned = False
    if header is not None:
        found = header.first("dmarc")
        dmarc = found.result if found else "none"
        if found is not None:
            policy = dmarc_policy(found)
            aligned = (
                from_domain is not None and domain_key(found.properties.get("header.from")) == from_domain
            )
        if mode == "exchange-online" and (comp := header.first("compauth")) is not None:
            compauth = comp.result
    held_dmarc = dmarc == "fail" and policy != "none"
    held_comp = compauth == "fail"
    quarantine = held_dmarc or held_comp
    authenticated = not quarantine and ((dmarc == "pass" and aligned) or internal)
    reason = _reason(problem, sender, dmarc, policy, compauth, aligned, internal, quarantine, authenticated)
    return SenderAuth(mode, dmarc, compauth, policy, aligned, internal, authenticated, quarantine, reason)


def _reason(
    problem: str,
    sender: str | None,
    dmarc: str | None,
    policy: str | None,
    compauth: str | None,
    aligned: bool,
    internal: bool,
    quarantine: bool,
    authenticated: bool,
) -> str:
    if quarantine:
        parts = []
        if dmarc == "fail":
            parts.append(f"dmarc=fail (policy {policy or 'not stated'})")
        if compauth == "fail":
            parts.append("compauth=fail")
        return (
            "our mail server recorded " + " and ".join(parts) + " for the sender's domain: possibly spoofed"
        )
    if sender is None:
        return "the From header does not name exactly one sender: not authenticated"
    if authenticated:
        return (
            "sent from inside our Microsoft 365 tenant"
            if internal and dmarc != "pass"
            else "dmarc=pass for the sender's own domain"
        )
    if problem:
        return problem + ": not authenticated"
    if dmarc == "pass" and not aligned:
        return "dmarc=pass was for another domain than the From address: not authenticated"
    return f"dmarc={dmarc} at our mail server: not authenticated"
