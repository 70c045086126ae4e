"""Mail that claims to be from someone: a real sample re-addressed, with the trace
headers our receiving side would write (Postfix with OpenDMARC, or Exchange Online).

The shapes are the real ones: OpenDMARC's ``Authentication-Results: mx...; dmarc=pass
(p=quarantine dis=none) header.from=...``, and Exchange Online's header with no
authserv-id (``spf=... dmarc=... action=... header.from=...;compauth=... reason=...``)
above its organisation headers (``X-MS-Exchange-Organization-AuthAs``,
``X-MS-Exchange-Organization-AuthSource``, ``X-MS-Exchange-CrossTenant-Id``), which
Exchange stamps on mail sent inside a tenant and strips from mail arriving from outside.
"""

from __future__ import annotations

import re

from helpers.bot import TRUSTED

#: Our Microsoft 365 tenant, and another organisation's.
TENANT = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
OTHER_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
#: An Exchange Online Message-ID (they run to 70-120 characters).
EXO_ID = "<DB9PR09MB8C1A5B3E7D2F4A6B9C0D1E2F3A4B5C6D7@DB9PR09MB8C1A.eurprd09.prod.outlook.com>"
_TRACE = re.compile(
    rb"(?i)(received|return-path|authentication-results|received-spf|"
    rb"x-ms-exchange-[a-z-]+|arc-[a-z-]+|from|subject|message-id):"
)


def readdressed(
    raw: bytes, trace: list[str], *, sender: str, subject: str, message_id: str = EXO_ID
) -> bytes:
    """``raw`` with a new From, Subject and Message-ID, its old trace replaced by ``trace``
    (header lines, top first: what our receiving side wrote)."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = bool(_TRACE.match(line))
        if not skipping:
            kept.append(line)
    own = [f"From: {sender}", f"Subject: {subject}", f"Message-ID: {message_id}"]
    lines = [line.encode() for line in trace + own] + kept
    return b"\r\n".join(lines) + b"\r\n\r\n" + body.replace(b"\n", b"\r\n")


def postfix_trace(results: str | None) -> list[str]:
    """Our MTA's Received line and, unless None, its Authentication-Results."""
    trace = [
        "Received: from eu-smtp-1.mimecast.example (eu-smtp-1.mimecast.example",
        " [192.0.2.25]) by mx.cscp.example.org with ESMTPS id 4Q86F6F5F6F8",
        " for <cscp@example.org>; Sun, 20 Dec 2026 15:31:44 +0000",
    ]
    if results is not None:
        trace.append(f"Authentication-Results: {results}")
    return trace


def opendmarc(dmarc: str, header_from: str, *, authserv_id: str = TRUSTED) -> str:
    """An OpenDMARC/OpenDKIM result block as our MTA writes it."""
    return (
        f"{authserv_id};\r\n\tspf={'pass' if dmarc == 'pass' else 'fail'} "
        f"smtp.mailfrom={header_from};\r\n\tdkim={'pass' if dmarc == 'pass' else 'none'} "
        f"header.d={header_from} header.s=selector1;\r\n\tdmarc={dmarc} "
        f"(p=reject dis={'none' if dmarc == 'pass' else 'reject'}) header.from={header_from}"
    )


def exchange_trace(
    dmarc: str,
    header_from: str,
    *,
    auth_as: str = "Anonymous",
    tenant: str = TENANT,
    compauth: str | None = None,
) -> list[str]:
    """Exchange Online's trace above a message in our tenant's mailbox."""
    comp = compauth or (
        "pass reason=100" if dmarc == "pass" else "fail reason=000" if dmarc == "fail" else "none reason=405"
    )
    action = {"pass": "none", "fail": "quarantine"}.get(dmarc, "none")
    return [
        "Received: from AM6PR08MB4321.eurprd08.prod.outlook.com (2603:10a6:20b:3c::17) by",
        " DB9PR09MB5678.eurprd09.prod.outlook.com with HTTPS; Sun, 20 Dec 2026 15:31:45 +0000",
        f"Authentication-Results: spf=none (sender IP is 40.107.22.44)\r\n"
        f" smtp.mailfrom={header_from}; dkim=none (message not signed)\r\n"
        f" header.d=none;dmarc={dmarc} action={action}\r\n"
        f" header.from={header_from};compauth={comp}",
        "Received-SPF: None (protection.outlook.com: example.org does not designate",
        " permitted sender hosts)",
        "X-MS-Exchange-Organization-AuthSource: DB9PR09MB5678.eurprd09.prod.outlook.com",
        f"X-MS-Exchange-Organization-AuthAs: {auth_as}",
        "X-MS-Exchange-Organization-AuthMechanism: 04"
        if auth_as == "Internal"
        else "X-MS-Exchange-Organization-SCL: 1",
        f"X-MS-Exchange-CrossTenant-Id: {tenant}",
        f"X-MS-Exchange-CrossTenant-AuthAs: {auth_as}",
        "X-MS-Exchange-CrossTenant-AuthSource: DB9PR09MB5678.eurprd09.prod.outlook.com",
        "X-MS-Exchange-CrossTenant-fromentityheader: Hosted",
        "X-MS-Exchange-CrossTenant-mailboxtype: HOSTED",
    ]
