"""Settings: one declarative registry, loaded once into a frozen object.

Each setting names its own environment variable (INTERFACE.md fixes them; they are not
derived mechanically) and its TOML key. Order of precedence: embedded default, then
the TOML file, then the environment. A secret may come from ``X`` or from a file named
by ``X_FILE``; both at once is an error. Every problem raises ``ConfigError`` naming
the setting, so the CLI can exit 2 with one plain line.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailbot.errors import ConfigError
from mailbot.settings_values import MISSING, coerce, flatten, raw_value, toml_lookup

DEFAULT_URGENT = (
    "If a child is at immediate risk of harm, call 999. This mailbox is not monitored for urgent concerns."
)


@dataclass(frozen=True)
class Setting:
    name: str  # attribute on Settings
    env: str
    toml: str  # dotted key
    default: Any
    help: str
    kind: str = "str"  # str | int | float | list | address | addresses | secret | path | bool
    secret: bool = False


# fmt: off
# One row per setting, laid out as a table: the formatter leaves it as written.
REGISTRY: tuple[Setting, ...] = (
    Setting("mailbox_url", "MAILBOT_MAILBOX_URL", "mailbox.url", "maildir:var/inbox",
            "where referrals arrive: imaps://, imap+starttls://, imap:// (loopback), "
            "graph://USER/FOLDER (Microsoft Graph) or maildir:PATH"),
    Setting("mailbox_password", "MAILBOT_MAILBOX_PASSWORD", "mailbox.password", None,
            "IMAP password", kind="secret", secret=True),
    Setting("mailbox_ca_file", "MAILBOT_MAILBOX_CA_FILE", "mailbox.ca_file", None,
            "a CA certificate file for an internal certificate authority (IMAP, SMTP, and "
            "Microsoft Graph and its sign-in behind a TLS-inspecting proxy)", kind="path"),
    Setting("outbound_url", "MAILBOT_OUTBOUND_URL", "outbound.url", "outbox:var/outbox",
            "where replies go: smtps://, smtp+starttls://, smtp:// (loopback), "
            "graph://USER (Microsoft Graph) or outbox:PATH"),
    Setting("outbound_password", "MAILBOT_OUTBOUND_PASSWORD", "outbound.password", None,
            "SMTP password", kind="secret", secret=True),
    Setting("m365_tenant_id", "MAILBOT_M365_TENANT_ID", "m365.tenant_id", None,
            "Microsoft 365: the directory (tenant) id; set it to sign in with OAuth2 "
            "(client credentials) instead of passwords"),
    Setting("m365_client_id", "MAILBOT_M365_CLIENT_ID", "m365.client_id", None,
            "Microsoft 365: the application (client) id of the app registration"),
    Setting("m365_client_secret", "MAILBOT_M365_CLIENT_SECRET", "m365.client_secret", None,
            "Microsoft 365: the client secret of the app registration", kind="secret",
            secret=True),
    Setting("m365_certificate_file", "MAILBOT_M365_CERTIFICATE_FILE", "m365.certificate_file",
            None, "Microsoft 365: a PEM file with the app's private key and certificate, "
            "instead of a client secret", kind="path"),
    Setting("m365_graph_url", "MAILBOT_M365_GRAPH_URL", "m365.graph_url",
            "https://graph.microsoft.com/v1.0",
            "Microsoft 365: the Microsoft Graph endpoint for graph:// mailboxes and senders "
            "(a national cloud's, e.g. https://graph.microsoft.us/v1.0)"),
    Setting("m365_authority_url", "MAILBOT_M365_AUTHORITY_URL", "m365.authority_url",
            "https://login.microsoftonline.com",
            "Microsoft 365: the sign-in authority host (a national cloud's, e.g. "
            "https://login.microsoftonline.us)"),
    Setting("database_url", "MAILBOT_DATABASE_URL", "store.url", "sqlite:///var/mailbot.db",
            "SQLAlchemy URL: SQLite or PostgreSQL (postgresql+psycopg://...)"),
    Setting("key_file", "MAILBOT_KEY_FILE", "store.key_file", "var/master.key",
            "the master key file (mode 0600)", kind="path"),
    Setting("master_key", "MAILBOT_MASTER_KEY", "store.master_key", None, "the master key "
            "file's content as a secret (e.g. a systemd credential), instead of the key file; "
            "read-only", kind="secret", secret=True),
    Setting("key_command", "MAILBOT_KEY_COMMAND", "store.key_command", None, "a command "
            "(no shell) printing the master key file's content, e.g. from a KMS or Vault, "
            "instead of the key file; read-only"),
    Setting("mail_from", "MAILBOT_FROM", "mail.from", "cscp@example.org",
            "the address replies are sent from", kind="address"),
    Setting("team_address", "MAILBOT_TEAM_ADDRESS", "mail.team", None,
            "the CSCP team's address: queue digests and alerts go here", kind="address"),
    Setting("team_senders", "MAILBOT_TEAM_SENDERS", "mail.team_senders", None,
            "addresses whose emailed outcome sections are recorded as SPRG decisions "
            "(default: the team address)", kind="addresses"),
    Setting("urgent_contact", "MAILBOT_URGENT_CONTACT", "mail.urgent_contact", DEFAULT_URGENT,
            "the sentence every acknowledgement ends with about immediate risk"),
    Setting("sprg_members", "MAILBOT_SPRG_MEMBERS", "sprg.members", (),
            "addresses that get SPRG digests", kind="addresses"),
    Setting("sprg_meetings", "MAILBOT_SPRG_MEETINGS", "sprg.meetings", None,
            "SPRG meetings: ISO dates, or a rule such as 'second tuesday monthly'", kind="list"),
    Setting("sprg_cutoff_days", "MAILBOT_SPRG_CUTOFF_DAYS", "sprg.cutoff_days", 10,
            "a case ready at least this many days before a meeting goes on its agenda",
            kind="int"),
    Setting("sprg_chair", "MAILBOT_SPRG_CHAIR", "sprg.chair", None,
            "the SPRG chair named on the agenda pack and, unless --chair says otherwise, on decisions"),
    Setting("sprg_digest_days", "MAILBOT_SPRG_DIGEST_DAYS", "sprg.digest_days", 7,
            "the pre-meeting digest goes to the SPRG members this many days before each meeting",
            kind="int"),
    Setting("sprg_attach_pack", "MAILBOT_SPRG_ATTACH_PACK", "sprg.attach_pack", False,
            "attach the agenda pack to the digest, encrypted with the pack password", kind="bool"),
    Setting("sprg_pack_password", "MAILBOT_SPRG_PACK_PASSWORD", "sprg.pack_password", None,
            "the password that opens the attached agenda pack (never sent by the bot)",
            kind="secret", secret=True),
    Setting("final_report_reminder_days", "MAILBOT_FINAL_REPORT_REMINDER_DAYS",
            "sprg.final_report_reminder_days", 14,
            "the team is reminded this many days before a decided case's final report is due",
            kind="int"),
    Setting("action_reminder_days", "MAILBOT_ACTION_REMINDER_DAYS",
            "sprg.action_reminder_days", 5,
            "an action's owner (with an e-mail address) is reminded this many working days "
            "before it is due, and again on the day it becomes overdue", kind="int"),
    Setting("max_attachment_mb", "MAILBOT_MAX_ATTACHMENT_MB", "mail.max_attachment_mb", 25,
            "an attachment larger than this is not opened; the sender is asked for a smaller copy",
            kind="int"),
    Setting("trusted_authserv_id", "MAILBOT_TRUSTED_AUTHSERV_ID", "mail.trusted_authserv_id",
            None, "the authserv-id of our own receiving MTA; only its Authentication-Results "
            "headers are believed"),
    Setting("sender_auth", "MAILBOT_SENDER_AUTH", "mail.sender_auth", None,
            "which Authentication-Results to believe: authserv-id (only those with mail."
            "trusted_authserv_id), exchange-online (the topmost header, which Exchange Online "
            "writes without an authserv-id, and its compauth) or none"),
    Setting("sender_auth_tenant_id", "MAILBOT_SENDER_AUTH_TENANT_ID", "mail.sender_auth_tenant_id",
            None, "with exchange-online: our Microsoft 365 tenant (directory) id; mail Exchange "
            "marks as sent inside this tenant counts as authenticated (default: m365.tenant_id)"),
    Setting("smime_key", "MAILBOT_SMIME_KEY", "mail.smime_key", None,
            "the mailbox's S/MIME private key and certificate (one PEM); S/MIME encrypted "
            "referrals are opened with it (without it they wait for a person)",
            kind="secret", secret=True),
    Setting("reply_limit_hour", "MAILBOT_REPLY_LIMIT_HOUR", "mail.reply_limit_hour", 5,
            "automatic replies to one address in an hour, at most; past it messages are "
            "handled and recorded but not answered, and the team is told", kind="int"),
    Setting("reply_limit_day", "MAILBOT_REPLY_LIMIT_DAY", "mail.reply_limit_day", 20,
            "automatic replies to one address in a day, at most (and 3 in one thread)",
            kind="int"),
    Setting("resend_window_days", "MAILBOT_RESEND_WINDOW_DAYS", "mail.resend_window_days", 14,
            "the same referral sent again by the same sender within this many days of an open "
            "case joins that case instead of opening another", kind="int"),
    Setting("poll_interval", "MAILBOT_POLL_INTERVAL", "mailbox.poll_interval", 60,
            "seconds between polls when the server cannot push (no IDLE)", kind="int"),
    Setting("message_max_attempts", "MAILBOT_MESSAGE_MAX_ATTEMPTS", "mailbox.max_attempts", 3,
            "a message whose handling fails or is interrupted this many times is held for a "
            "person (quarantine, the team alerted) instead of being tried again", kind="int"),
    Setting("send_max_attempts", "MAILBOT_SEND_MAX_ATTEMPTS", "outbound.max_attempts", 12,
            "temporary SMTP failures are retried (with capped backoff) this many times",
            kind="int"),
    Setting("log_level", "MAILBOT_LOG_LEVEL", "log.level", "INFO",
            "log level: DEBUG, INFO, WARNING or ERROR (logs never carry personal data)"),
    Setting("bot_domain", "MAILBOT_MESSAGE_ID_DOMAIN", "mail.message_id_domain", None,
            "the domain of the Message-IDs the bot makes (default: the domain of mail.from)"),
    Setting("web_idle_minutes", "MAILBOT_WEB_IDLE_MINUTES", "web.idle_minutes", 20,
            "the workspace signs a user out after this many minutes without activity",
            kind="int"),
    Setting("web_totp", "MAILBOT_WEB_TOTP", "web.totp", "admin",
            "who must use two-step sign-in (a code from an authenticator app) with a workspace "
            "password: admin (administrators; others may choose to), all, or off"),
    Setting("web_oidc_tenant", "MAILBOT_WEB_OIDC_TENANT", "web.oidc_tenant", None,
            "Microsoft Entra ID: the directory (tenant) id; set it with the client id to offer "
            "\"Sign in with Microsoft\" (workspace passwords still work)"),
    Setting("web_oidc_client_id", "MAILBOT_WEB_OIDC_CLIENT_ID", "web.oidc_client_id", None,
            "Microsoft Entra ID: the application (client) id of the workspace's app registration"),
    Setting("web_oidc_client_secret", "MAILBOT_WEB_OIDC_CLIENT_SECRET", "web.oidc_client_secret",
            None, "Microsoft Entra ID: the client secret of the workspace's app registration",
            kind="secret", secret=True),
    Setting("web_oidc_authority", "MAILBOT_WEB_OIDC_AUTHORITY", "web.oidc_authority", None,
            "the OpenID provider's issuer URL (default: "
            "https://login.microsoftonline.com/TENANT/v2.0)"),
    Setting("web_oidc_roles", "MAILBOT_WEB_OIDC_ROLES", "web.oidc_roles",
            ("team=CSCP.Team", "sprg=CSCP.SPRG", "admin=CSCP.Admin"),
            "workspace role = Entra ID app role value or group id, comma-separated; the first "
            "that matches the ID token's roles or groups claim wins", kind="list"),
    Setting("chaser_days", "MAILBOT_CHASER_DAYS", "queue.chaser_days", 7,
            "a referral waiting this many working days for information gets one reminder to "
            "the referrer; as many working days again without an answer and it is flagged to "
            "the team",
            kind="int"),
    Setting("overdue_days", "MAILBOT_OVERDUE_DAYS", "queue.overdue_days", 10,
            "a case waiting this many working days for the team (to enter, schedule or decide) is "
            "shown as overdue", kind="int"),
    Setting("digest_hour", "MAILBOT_DIGEST_HOUR", "queue.digest_hour", 8,
            "the hour (Europe/London, 0-23) from which each working morning's queue digest "
            "and reminders go out", kind="int"),
    Setting("sandbox_cpu_seconds", "MAILBOT_SANDBOX_CPU_SECONDS", "sandbox.cpu_seconds", 20,
            "CPU seconds one message's attachments may take to read (in a child process); "
            "past it the file is answered as too complex to read", kind="int"),
    Setting("sandbox_memory_mb", "MAILBOT_SANDBOX_MEMORY_MB", "sandbox.memory_mb", 512,
            "memory (MB of address space, beyond its start) the child reading attachments "
            "may use", kind="int"),
    Setting("sandbox_wall_seconds", "MAILBOT_SANDBOX_WALL_SECONDS", "sandbox.wall_seconds", 60,
            "seconds of wall-clock time one message's attachments may take to read, "
            "LibreOffice conversions included", kind="int"),
    Setting("retention_years", "MAILBOT_RETENTION_YEARS", "retention.years_after_closure", 25,
            "a closed case is destroyed (crypto-shredded; a tombstone stays) this many years "
            "after it was closed, unless under legal hold", kind="int"),
    Setting("retention_held_days", "MAILBOT_RETENTION_HELD_DAYS", "retention.held_days", 365,
            "a held message that fed no case is destroyed this many days after it arrived, "
            "once a person has released or rejected it", kind="int"),
    Setting("retention_other_days", "MAILBOT_RETENTION_OTHER_DAYS", "retention.other_days", 90,
            "general correspondence and automatic mail (no case) are destroyed this many days "
            "after they arrived", kind="int"),
    Setting("retention_mailbox_days", "MAILBOT_RETENTION_MAILBOX_DAYS",
            "retention.mailbox_days", 30,
            "the mailbox's copy of a handled message (Processed, Other) is deleted this many "
            "days after its encrypted copy was stored", kind="int"),
)
# fmt: on

BY_NAME = {s.name: s for s in REGISTRY}
BY_ENV = {s.env: s for s in REGISTRY}


@dataclass(frozen=True)
class Settings:
    """Every setting, resolved. Paths are absolute (relative ones are under ``base_dir``)."""

    base_dir: Path
    config_file: Path | None
    mailbox_url: str
    mailbox_password: str | None = field(repr=False)
    mailbox_ca_file: Path | None
    outbound_url: str
    outbound_password: str | None = field(repr=False)
    m365_tenant_id: str | None
    m365_client_id: str | None
    m365_client_secret: str | None = field(repr=False)
    m365_certificate_file: Path | None
    database_url: str
    key_file: Path
    master_key: str | None = field(repr=False)
    key_command: str | None
    mail_from: str
    team_address: str | None
    team_senders: tuple[str, ...]
    urgent_contact: str
    sprg_members: tuple[str, ...]
    sprg_meetings: tuple[str, ...]
    sprg_cutoff_days: int
    max_attachment_mb: int
    trusted_authserv_id: str | None
    poll_interval: int
    send_max_attempts: int
    log_level: str
    bot_domain: str
    web_idle_minutes: int = 20
    chaser_days: int = 7
    overdue_days: int = 10
    digest_hour: int = 8
    sprg_chair: str | None = None
    sprg_digest_days: int = 7
    sprg_attach_pack: bool = False
    sprg_pack_password: str | None = field(default=None, repr=False)
    final_report_reminder_days: int = 14
    action_reminder_days: int = 5
    m365_graph_url: str = "https://graph.microsoft.com/v1.0"
    m365_authority_url: str = "https://login.microsoftonline.com"
    sender_auth: str = "none"  # authserv-id, exchange-online or none (resolved: never empty)
    sender_auth_tenant_id: str | None = None
    web_totp: str = "admin"
    web_oidc_tenant: str | None = None
    web_oidc_client_id: str | None = None
    web_oidc_client_secret: str | None = field(default=None, repr=False)
    web_oidc_authority: str | None = None
    web_oidc_roles: tuple[str, ...] = ("team=CSCP.Team", "sprg=CSCP.SPRG", "admin=CSCP.Admin")
    sandbox_cpu_seconds: int = 20
    sandbox_memory_mb: int = 512
    sandbox_wall_seconds: int = 60
    smime_key: str | None = field(default=None, repr=False)
    reply_limit_hour: int = 5
    reply_limit_day: int = 20
    resend_window_days: int = 14
    message_max_attempts: int = 3
    retention_years: int = 25
    retention_held_days: int = 365
    retention_other_days: int = 90
    retention_mailbox_days: int = 30
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def var_dir(self) -> Path:
        return self.base_dir / "var"


def load_settings(
    config_file: Path | None = None, env: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> Settings:
    """Resolve every setting once. ``env`` defaults to ``os.environ``."""
    env = dict(os.environ if env is None else env)
    base = (base_dir or Path.cwd()).resolve()
    if config_file is None and env.get("MAILBOT_CONFIG"):
        config_file = Path(env["MAILBOT_CONFIG"])
    if config_file is None and (base / "mailbot.toml").exists():
        config_file = base / "mailbot.toml"
    toml: dict[str, Any] = {}
    if config_file is not None:
        try:
            toml = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError("--config", f"cannot read {config_file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("--config", f"{config_file} is not valid TOML: {exc}") from exc
    _check_known_keys(toml)
    try:
        return _resolve(toml, env, base, config_file)
    except ConfigError as exc:
        setting = BY_ENV.get(exc.setting)
        if setting is None or setting.env in env or toml_lookup(toml, setting.toml) is MISSING:
            raise
        # The value came from the file: name the key the operator wrote there.
        raise ConfigError(setting.toml, exc.problem) from exc


def _resolve(
    toml: Mapping[str, Any], env: Mapping[str, str], base: Path, config_file: Path | None
) -> Settings:
    values: dict[str, Any] = {}
    for setting in REGISTRY:
        values[setting.name] = coerce(setting, raw_value(setting, toml, env))
    if not values["urgent_contact"].strip():
        raise ConfigError(
            "MAILBOT_URGENT_CONTACT",
            "must not be empty: it tells referrers what to do when a child is at immediate risk",
        )
    for name in ("mailbox_url", "outbound_url", "database_url"):
        if not values[name]:
            raise ConfigError(BY_NAME[name].env, "must not be empty")
    if values["max_attachment_mb"] < 1:
        raise ConfigError("MAILBOT_MAX_ATTACHMENT_MB", "must be at least 1 (megabytes)")
    if values["log_level"].upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("MAILBOT_LOG_LEVEL", "expected DEBUG, INFO, WARNING or ERROR")
    values["log_level"] = values["log_level"].upper()
    if values["digest_hour"] > 23:
        raise ConfigError("MAILBOT_DIGEST_HOUR", "expected an hour from 0 to 23")
    for name in ("retention_years", "retention_held_days", "retention_other_days", "retention_mailbox_days"):
        if values[name] < 1:
            raise ConfigError(BY_NAME[name].env, "must be at least 1")
    for name in ("retention_held_days", "retention_other_days"):  # the mailbox copy goes first
        if values[name] < values["retention_mailbox_days"]:
            raise ConfigError(BY_NAME[name].env, "must be at least retention.mailbox_days")
    if values["web_idle_minutes"] < 1:
        raise ConfigError("MAILBOT_WEB_IDLE_MINUTES", "must be at least 1")
    _check_m365(values)
    _check_mail(values)
    if values["master_key"] and values["key_command"]:
        raise ConfigError("store.key_command", "set store.key_command or store.master_key, not both")
    for name in ("key_file", "mailbox_ca_file", "m365_certificate_file"):
        if values[name] is not None:
            path = Path(values[name])
            values[name] = path if path.is_absolute() else base / path
    if not values["team_senders"] and values["team_address"]:
        values["team_senders"] = (values["team_address"],)
    if not values["bot_domain"]:
        values["bot_domain"] = values["mail_from"].rsplit("@", 1)[-1]
    values["database_url"] = _absolute_sqlite(values["database_url"], base)
    _check_sprg(values)
    from mailbot.mail.sender_auth_settings import resolve_settings  # defaults and checks sender_auth

    resolve_settings(values)
    return Settings(base_dir=base, config_file=config_file, **values)


def _check_mail(values: dict[str, Any]) -> None:
    """Reply limits that would silence the bot, and an S/MIME key that cannot be used."""
    for name in ("reply_limit_hour", "reply_limit_day", "resend_window_days"):
        if values[name] < 1:
            raise ConfigError(BY_NAME[name].env, "must be at least 1")
    if values["smime_key"]:
        from mailbot.mail.smime import load_smime_key

        try:
            load_smime_key(values["smime_key"])
        except ValueError as exc:
            raise ConfigError("MAILBOT_SMIME_KEY", f"not a usable PEM key and certificate ({exc})") from exc


def _check_sprg(values: dict[str, Any]) -> None:
    """A bad meeting calendar or an attached pack without a password stops at load time."""
    from mailbot.sprg.calendar import parse_meetings

    parse_meetings(values["sprg_meetings"])
    if values["sprg_attach_pack"] and not values["sprg_pack_password"]:
        raise ConfigError("MAILBOT_SPRG_PACK_PASSWORD", "must be set when MAILBOT_SPRG_ATTACH_PACK is on")


def _check_known_keys(toml: Mapping[str, Any]) -> None:
    """A mistyped key must not fall back to a default without a word: refuse it."""
    known = {s.toml for s in REGISTRY} | {s.toml + "_file" for s in REGISTRY if s.secret}
    for key in flatten(toml):
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(key, f"not a mailbot setting{hint} (see the README's Settings)")


def _check_m365(values: dict[str, Any]) -> None:
    """OAuth2 needs the tenant, the client and exactly one credential, or none of them."""
    if not values["m365_tenant_id"] and not values["m365_client_id"]:
        return
    for name in ("m365_tenant_id", "m365_client_id"):
        if not values[name]:
            raise ConfigError(BY_NAME[name].env, "Microsoft 365 sign-in needs this too")
    if bool(values["m365_client_secret"]) == bool(values["m365_certificate_file"]):
        raise ConfigError(
            "MAILBOT_M365_CLIENT_SECRET", "set a client secret or a certificate file (one of them)"
        )


def _absolute_sqlite(url: str, base: Path) -> str:
    """``sqlite:///var/x.db`` is relative to the working folder; make it explicit."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(base / url[len(prefix) :])
    return url
