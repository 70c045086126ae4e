"""From the URLs of INTERFACE.md to a concrete mailbox or sender.

``build_app`` calls these two functions and nothing else here, so every rule about the
URL forms lives in one place: the schemes, the default ports, percent-encoded user
names, paths relative to the state folder, and the refusal to send a password in the
clear to anything but this machine.

Error messages name the setting and the problem; they never repeat the URL, which a
careless operator may have put a password into.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urlsplit

from mailbot.errors import ConfigError
from mailbot.mail.imap import ImapMailbox, ImapSettings, Security
from mailbot.mail.mailbox import Mailbox
from mailbot.mail.maildir import MaildirMailbox
from mailbot.mail.oauth import TokenSource
from mailbot.mail.sender import OutboxFolderSender, Sender
from mailbot.mail.smtp import SmtpSender, SmtpSettings

if TYPE_CHECKING:
    from mailbot.mail.graph_client import GraphAccess
    from mailbot.mail.graph_delta import DeltaStore

MAILBOX_SETTING = "mailbox.url"
OUTBOUND_SETTING = "outbound.url"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

#: scheme -> (security, default port)
_IMAP: dict[str, tuple[Security, int]] = {
    "imaps": ("tls", 993),
    "imap+starttls": ("starttls", 143),
    "imap": ("plain", 143),
}
_SMTP: dict[str, tuple[Security, int]] = {
    "smtps": ("tls", 465),
    "smtp+starttls": ("starttls", 587),
    "smtp": ("plain", 25),
}


@dataclass(frozen=True)
class ServerUrl:
    """The parts of an ``imap...://`` or ``smtp...://`` URL, decoded."""

    scheme: str
    user: str | None
    host: str
    port: int | None
    path: str


def open_mailbox(
    url: str,
    *,
    password: str | None,
    base_dir: Path,
    ca_file: str | None = None,
    token_provider: TokenSource | None = None,
    graph: GraphAccess | None = None,
    delta_store: DeltaStore | None = None,
) -> Mailbox:
    """The mailbox ``mailbox.url`` names (not yet connected: IMAP logs in on first use).

    ``graph://USER/FOLDER`` signs in with ``graph`` (the ``m365.*`` settings); its delta
    state goes to ``delta_store`` (``build_app`` passes the database one), else to the file
    ``var/graph-delta.json``.
    """
    if url.startswith("maildir:"):
        return MaildirMailbox(_local_path(url, "maildir:", base_dir, MAILBOX_SETTING))
    if url.startswith("graph:"):
        from mailbot.mail.graph_delta import FileDeltaStore
        from mailbot.mail.graph_mailbox import GraphMailbox

        user, folder = parse_graph_url(url, MAILBOX_SETTING)
        access = _need_graph(graph)
        store = (
            delta_store if delta_store is not None else FileDeltaStore(base_dir / "var" / "graph-delta.json")
        )
        return GraphMailbox(access.client(), user, folder or "Inbox", store=store)
    parts = parse_server_url(url, MAILBOX_SETTING, _IMAP)
    if not parts.user:
        raise ConfigError(MAILBOX_SETTING, "an IMAP URL needs the user name: imaps://USER@HOST")
    if password is None and token_provider is None:
        raise ConfigError("mailbox.password", "an IMAP mailbox needs a password")
    security, default_port = _IMAP[parts.scheme]
    folder = parts.path.strip("/") or "INBOX"
    return ImapMailbox(
        ImapSettings(
            host=parts.host,
            port=parts.port or default_port,
            user=parts.user,
            security=security,
            folder=folder,
            password=password,
            token_provider=token_provider,
            ca_file=ca_file,
        )
    )


def open_sender(
    url: str,
    *,
    password: str | None,
    base_dir: Path,
    ca_file: str | None = None,
    token_provider: TokenSource | None = None,
    graph: GraphAccess | None = None,
) -> Sender:
    """The sender ``outbound.url`` names (SMTP connects on the first send)."""
    if url.startswith("outbox:"):
        return OutboxFolderSender(_local_path(url, "outbox:", base_dir, OUTBOUND_SETTING))
    if url.startswith("graph:"):
        from mailbot.mail.graph_sender import GraphSender

        user, folder = parse_graph_url(url, OUTBOUND_SETTING)
        if folder:
            raise ConfigError(OUTBOUND_SETTING, "a Graph sender URL has no folder: graph://USER")
        return GraphSender(_need_graph(graph).client(), user)
    parts = parse_server_url(url, OUTBOUND_SETTING, _SMTP)
    if parts.path.strip("/"):
        raise ConfigError(OUTBOUND_SETTING, "an SMTP URL has no path: smtps://[USER@]HOST[:PORT]")
    if parts.user and password is None and token_provider is None:
        raise ConfigError("outbound.password", "an SMTP user name needs a password")
    security, default_port = _SMTP[parts.scheme]
    return SmtpSender(
        SmtpSettings(
            host=parts.host,
            port=parts.port or default_port,
            security=security,
            user=parts.user,
            password=password,
            token_provider=token_provider,
            ca_file=ca_file,
        )
    )


def parse_server_url(url: str, setting: str, schemes: Mapping[str, tuple[str, int]]) -> ServerUrl:
    """Split and check a server URL; plain schemes only for loopback hosts."""
    known = ", ".join(f"{s}://" for s in schemes)
    split = _split(url, setting, known)
    if split.scheme not in schemes:
        raise ConfigError(setting, f"unknown scheme; use one of {known}, or a local folder")
    if split.password is not None:
        raise ConfigError(setting, "the URL carries a password: set it as its own setting")
    if split.query or split.fragment:
        raise ConfigError(setting, "the URL may not have a ?query or #fragment")
    host = split.hostname
    if not host:
        raise ConfigError(setting, "the URL names no host")
    if schemes[split.scheme][0] == "plain" and not is_loopback(host):
        raise ConfigError(
            setting,
            f"{split.scheme}:// is unencrypted and allowed only to this machine "
            f"(127.0.0.1, ::1, localhost); use {split.scheme}s:// or {split.scheme}+starttls://",
        )
    user = unquote(split.username) if split.username else None
    return ServerUrl(split.scheme, user, host, _port(split, setting), unquote(split.path))


def parse_graph_url(url: str, setting: str) -> tuple[str, str]:
    """``graph://cscp%40example.org/Inbox`` -> (``cscp@example.org``, ``Inbox``).

    The user is the mailbox's address (user principal name) or its object id; ``@``
    may be written as ``%40`` or plainly.
    """
    split = _split(url, setting, "graph://USER/FOLDER")
    if split.scheme != "graph":
        raise ConfigError(setting, "unknown scheme; use graph://USER/FOLDER")
    if split.query or split.fragment:
        raise ConfigError(setting, "the URL may not have a ?query or #fragment")
    if split.password is not None:
        raise ConfigError(setting, "a graph:// URL carries no password: set m365.client_secret")
    user = unquote(split.netloc).strip()
    if not user or "/" in user or ":" in user or ("@" not in user and not _GUID.match(user)):
        raise ConfigError(setting, "name the mailbox: graph://cscp%40example.org/Inbox")
    return user, unquote(split.path).strip("/")


def _need_graph(graph: GraphAccess | None) -> GraphAccess:
    if graph is None:
        raise ConfigError(
            "m365.tenant_id",
            "a graph:// mailbox or sender signs in as an app: set "
            "m365.tenant_id, m365.client_id and a client secret or certificate",
        )
    return graph


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (no DNS lookup: names can lie)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(url: str, setting: str, known: str) -> SplitResult:
    if "://" not in url:
        raise ConfigError(setting, f"not a URL; use one of {known}, or a local folder")
    try:
        return urlsplit(url.strip())
    except ValueError as exc:
        raise ConfigError(setting, "the URL cannot be read (check brackets and @ signs)") from exc


def _port(split: SplitResult, setting: str) -> int | None:
    try:
        port = split.port
    except ValueError as exc:
        raise ConfigError(setting, "the port must be a number from 1 to 65535") from exc
    if port == 0:
        raise ConfigError(setting, "the port must be a number from 1 to 65535")
    return port


def _local_path(url: str, prefix: str, base_dir: Path, setting: str) -> Path:
    """``maildir:PATH`` / ``outbox:PATH``: absolute, or relative to ``base_dir``."""
    raw = url[len(prefix) :].strip()
    if raw.startswith("//"):
        raise ConfigError(setting, f"write {prefix}PATH, not {prefix}//PATH")
    if not raw:
        raise ConfigError(setting, f"{prefix} needs a folder: {prefix}var/inbox")
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base_dir / path
