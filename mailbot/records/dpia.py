"""``mailbot dpia``: the parts of the DPIA that depend on the settings in force.

``docs/data-protection.md`` describes what never changes (what is processed, the lawful
basis, the safeguards). This prints what a deployment decides: how long each kind of
record is kept, where the data lives, who receives what, and who can see the cases, so
the DPIA's annex can be regenerated after any change. It prints no secret: URLs lose
their passwords, and addresses are the organisation's own (the team, the SPRG members).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from mailbot.settings import Settings


def _no_secret(url: str) -> str:
    """A URL with any password removed (``user:secret@host`` becomes ``user@host``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def dpia_text(settings: Settings, users_by_role: Mapping[str, int]) -> str:
    s = settings
    members = ", ".join(s.sprg_members) or "none set"
    lines = [
        "mailbot: the settings-dependent parts of the DPIA",
        "",
        "Retention",
        f"  cases: kept while open and {s.retention_years} years after closing "
        "(retention.years_after_closure), unless under legal hold; then crypto-shredded, "
        "a tombstone (reference, dates, agency, outcome) kept",
        f"  held messages that fed no case: {s.retention_held_days} days after arrival, once "
        "a person has decided (retention.held_days)",
        f"  general correspondence and automatic mail: {s.retention_other_days} days (retention.other_days)",
        f"  the mailbox's plaintext copies: {s.retention_mailbox_days} days after the "
        "encrypted copy was stored (retention.mailbox_days)",
        "  audit trail: kept with the database; names actions, references and staff, never a child's data",
        "",
        "Where the data lives",
        f"  database: {_no_secret(s.database_url)} (every personal field encrypted)",
        f"  master key: {s.key_file} (outside the database; escrow it: mailbot keys escrow)",
        f"  erasure log: {s.var_dir / 'erasure-log.jsonl'} (references and dates only)",
        f"  mailbox read: {_no_secret(s.mailbox_url)}",
        f"  mail sent through: {_no_secret(s.outbound_url)}",
        f"  subject access packs: {s.var_dir / 'sar'} (by default); agenda packs: "
        f"{s.var_dir / 'sprg'} (by default)",
        "",
        "Who receives what",
        f"  referrers: acknowledgements, requests for what is missing, reminders and "
        f"decision notices, from {s.mail_from}, naming the case reference only",
        f"  the CSCP team ({s.team_address or 'no team address set'}): queue digests and "
        "alerts, by reference only",
        f"  SPRG members ({members}): the pre-meeting digest {s.sprg_digest_days} days "
        "before each meeting (reference, agency, age band, themes)"
        + (
            ", with the agenda pack attached, encrypted with a password the bot never sends"
            if s.sprg_attach_pack
            else "; no pack attached (sprg.attach_pack off)"
        ),
        f"  sender authentication believed: {s.sender_auth} (mail.sender_auth)",
        "",
        "Who can see the cases (workspace accounts now)",
    ]
    for role, meaning in (
        ("team", "all casework"),
        ("sprg", "meetings and their cases, read-only"),
        ("admin", "users and settings"),
    ):
        lines.append(f"  {role}: {users_by_role.get(role, 0)} account(s) - {meaning}")
    lines.append(
        f"  two-step sign-in required for: {s.web_totp} (web.totp); sign-out after "
        f"{s.web_idle_minutes} idle minutes"
    )
    if s.web_oidc_tenant:
        lines.append(f"  Microsoft Entra ID sign-in: tenant {s.web_oidc_tenant}")
    return "\n".join(lines) + "\n"
