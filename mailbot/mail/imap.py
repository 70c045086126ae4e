"""An IMAP account as the bot's mailbox (``imaps://``, ``imap+starttls://``, ``imap://``).

Each ref carries folder, UIDVALIDITY and UID, so a stored ref can never name a
different message after the server renumbers a folder. Moves use MOVE (RFC 6851) where
offered, else COPY + ``\\Deleted`` + UID EXPUNGE (RFC 4315); both are safe to repeat.

A dropped connection is reopened transparently, with capped exponential backoff and
jitter (``backoff.py``); the outage is logged once when it starts and once when it
ends. A refused login raises ``MailboxAuthError`` at once: retrying a wrong password
only locks the account.

Not thread-safe: one connection, one user.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Literal, TypeVar
from urllib.parse import quote

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from mailbot.errors import MailboxAuthError, MailboxConnectionError, MailboxError
from mailbot.mail import imap_batch
from mailbot.mail.backoff import Backoff, LinkState
from mailbot.mail.imap_idle import idle_turn, new_mail
from mailbot.mail.mailbox import MailboxRef, MessageGone, StoredMessage
from mailbot.mail.oauth import TokenError, TokenSource

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "plain"]
T = TypeVar("T")
Reader = Callable[[IMAPClient, list[int]], dict[int, T]]

#: RFC 2177 says servers may drop an IDLE after 30 minutes; re-issue well inside that.
IDLE_CAP = 9 * 60.0
#: Errors after which the link is dead but a new one may work.
_RETRYABLE = (OSError, IMAPClientAbortError, EOFError)


@dataclass(frozen=True)
class ImapSettings:
    """Where and how to log in; secrets stay out of ``repr``."""

    host: str
    port: int
    user: str
    security: Security = "tls"
    folder: str = "INBOX"
    password: str | None = field(default=None, repr=False)
    token_provider: TokenSource | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout: float = 30.0


class ImapMailbox:
    """The ``Mailbox`` protocol over one IMAP account.

    ``disabled_capabilities`` makes the adapter ignore server extensions (e.g.
    ``{"MOVE"}`` or ``{"IDLE"}``): a workaround for a server whose extension is broken,
    and how the tests reach the fallback paths on a server that has them all.
    """

    def __init__(
        self,
        settings: ImapSettings,
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        idle_cap: float = IDLE_CAP,
        poll_interval: float = 10.0,
        disabled_capabilities: frozenset[str] = frozenset(),
    ) -> None:
        if settings.password is None and settings.token_provider is None:
            raise MailboxAuthError("an IMAP mailbox needs a password or a token provider")
        self.settings = settings
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._clock = clock
        self._idle_cap = idle_cap
        self._poll_interval = poll_interval
        self._disabled = {c.upper().encode() for c in disabled_capabilities}
        self._client: IMAPClient | None = None
        self._selected: tuple[str, str] | None = None  # (folder, uidvalidity)
        self._known_folders: set[str] = set()
        self._listed: tuple[str, int] | None = None  # (uidvalidity, highest uid listed)
        self._link = LinkState(f"imap://{settings.host}:{settings.port}", log)
        self.fetch_count, self.fetch_bytes = imap_batch.FETCH_COUNT, imap_batch.FETCH_BYTES

    @property
    def identity(self) -> str:
        s = self.settings
        return f"imap://{quote(s.user, safe='')}@{s.host}:{s.port}"

    # -- the protocol ----------------------------------------------------------------

    def list_new(self) -> list[MailboxRef]:
        """Every message in the inbox folder not flagged ``\\Deleted``, by UID."""

        def op(client: IMAPClient) -> list[MailboxRef]:
            uidvalidity = self._select(client, self.settings.folder, fresh=True)
            uids = sorted(int(u) for u in client.search(["NOT", "DELETED"]))
            self._listed = (uidvalidity, uids[-1] if uids else 0)
            return [self._ref(self.settings.folder, uidvalidity, uid) for uid in uids]

        return self._run(op)

    def fetch(self, ref: MailboxRef) -> bytes:
        """``BODY.PEEK[]``: the bytes as stored, without setting ``\\Seen``."""
        for _, raw in self.fetch_many([ref]):
            if raw is not None:
                return raw
        raise MessageGone(f"message {ref.uid} is not in folder {ref.folder} (gone, or renumbered)")

    def move(self, ref: MailboxRef, folder: str) -> None:
        """Move one message; a message already gone (or renumbered) is left alone."""
        self.move_many([(ref, folder)])

    def fetch_many(self, refs: Sequence[MailboxRef]) -> Iterator[tuple[MailboxRef, bytes | None]]:
        """Bodies a chunk per ``UID FETCH`` (``imap_batch``), lazily: a window's sizes,
        then its chunks as the caller consumes them. Gone or renumbered: None."""
        for window in imap_batch.windows(refs):
            place, uids = (window[0].folder, window[0].uidvalidity), [int(ref.uid) for ref in window]
            if len(uids) == 1:  # one message is its own bound: no size query first
                yield window[0], self._run(partial(self._read, place, imap_batch.bodies, uids)).get(uids[0])
                continue
            known = self._run(partial(self._read, place, imap_batch.sizes, uids))
            chunks = list(imap_batch.chunks(uids, known, self.fetch_count, self.fetch_bytes))
            chunk_of = {uid: n for n, chunk in enumerate(chunks) for uid in chunk}
            current, found = -1, dict[int, bytes]()
            for uid, ref in zip(uids, window, strict=True):
                if (n := chunk_of.get(uid, current)) != current:  # absent from the sizes: gone
                    current = n
                    found = self._run(partial(self._read, place, imap_batch.bodies, chunks[n]))
                yield ref, found.get(uid) if uid in chunk_of else None

    def move_many(self, moves: Sequence[tuple[MailboxRef, str]]) -> None:
        """One ``UID SEARCH`` per source folder for what is still there, then one ``UID
        MOVE`` per target folder; refs gone (or renumbered) are left alone."""
        for folder in dict.fromkeys(target for _, target in moves):
            self.ensure_folder(folder)
        groups: dict[tuple[str, str], dict[str, list[int]]] = {}
        for ref, target in moves:
            groups.setdefault((ref.folder, ref.uidvalidity), {}).setdefault(target, []).append(int(ref.uid))
        for place, targets in groups.items():
            self._run(partial(self._move_set, place, targets))

    def ensure_folder(self, folder: str) -> None:
        if folder in self._known_folders or folder.upper() == "INBOX":
            return

        def op(client: IMAPClient) -> None:
            if not client.folder_exists(folder):
                try:
                    client.create_folder(folder)
                except IMAPClientError:
                    if not client.folder_exists(folder):  # lost a race with another client
                        raise
                _subscribe(client, folder)

        self._run(op)
        self._known_folders.add(folder)

    def list_folder(self, folder: str) -> list[StoredMessage]:
        """UIDs not flagged ``\\Deleted``, with INTERNALDATE (when the server took it)."""

        def op(client: IMAPClient) -> list[StoredMessage]:
            if not client.folder_exists(folder):
                return []
            uidvalidity = self._select(client, folder, fresh=True)
            uids = sorted(int(u) for u in client.search(["NOT", "DELETED"]))
            dates = client.fetch(uids, ["INTERNALDATE"]) if uids else {}
            return [
                StoredMessage(
                    self._ref(folder, uidvalidity, uid), _aware(dates.get(uid, {}).get(b"INTERNALDATE"))
                )
                for uid in uids
            ]

        return self._run(op)

    def delete(self, ref: MailboxRef) -> None:
        """``\\Deleted`` then UID EXPUNGE of that UID alone (without UIDPLUS the flag stays
        and the server's own expunge removes it: a plain EXPUNGE could take others' mail)."""

        def op(client: IMAPClient) -> None:
            if self._select(client, ref.folder) != ref.uidvalidity:
                return  # renumbered: the next round lists it afresh
            uid = int(ref.uid)
            if uid in client.search(["UID", str(uid), "NOT", "DELETED"]):
                client.add_flags([uid], [imap_batch.DELETED], silent=True)
            if self._has(client, b"UIDPLUS"):
                client.uid_expunge([uid])

        self._run(op)

    def append(self, raw: bytes, folder: str | None = None) -> None:
        """APPEND; a retry after a drop mid-command may deliver twice (dedup catches it)."""
        target = folder or self.settings.folder
        self.ensure_folder(target)
        self._run(lambda client: client.append(target, raw))

    def wait_for_new(self, timeout: float) -> bool:
        """True once the inbox holds a UID above the last ``list_new``; False at timeout.

        Mail that arrived after the last listing counts at once (it would otherwise wait
        for the next delivery). Then IDLE where offered, in turns of at most
        ``idle_cap`` seconds; NOOP polling every ``poll_interval`` seconds otherwise.
        """
        deadline = self._clock() + max(0.0, timeout)

        def op(client: IMAPClient) -> bool:
            self._select(client, self.settings.folder, fresh=True)
            if self._has_unlisted(client):
                return True
            if self._has(client, b"IDLE"):
                return self._idle(client, deadline)
            return self._poll(client, deadline)

        return self._run(op)

    def close(self) -> None:
        client, self._client = self._client, None
        self._selected = None
        if client is not None:
            try:
                client.logout()
            except (*_RETRYABLE, IMAPClientError):
                _quietly_shutdown(client)  # closing anyway; a dead link has nothing to log out

    # -- connection ------------------------------------------------------------------

    def _run(self, op: Callable[[IMAPClient], T]) -> T:
        """Run ``op`` on a live connection, reconnecting after a drop (with backoff)."""
        attempts = max(1, self._backoff.attempts)
        for attempt in range(attempts):
            try:
                result = op(self._connected())
            except ssl.SSLCertVerificationError as exc:
                self._drop()
                raise MailboxError(f"{self._link.name}: certificate not trusted") from exc
            except _RETRYABLE as exc:
                self._drop()
                self._link.failed(exc)
                if attempt + 1 == attempts:
                    raise MailboxConnectionError(
                        f"{self._link.name}: unreachable ({type(exc).__name__})"
                    ) from exc
                self._sleep(self._backoff.delay(attempt))
            except IMAPClientError as exc:
                self._drop()  # a refused command may leave the session mid-IDLE: start clean
                raise MailboxError(f"the IMAP server refused a command: {_brief(exc)}") from exc
            else:
                self._link.succeeded()
                return result
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _connected(self) -> IMAPClient:
        if self._client is None:
            self._client = self._connect()
            self._selected = None
        return self._client

    def _connect(self) -> IMAPClient:
        s = self.settings
        context = _ssl_context(s.ca_file) if s.security != "plain" else None
        client = IMAPClient(s.host, s.port, ssl=s.security == "tls", ssl_context=context, timeout=s.timeout)
        try:
            if s.security == "starttls":
                client.starttls(context)
            self._login(client)
        except BaseException:
            _quietly_shutdown(client)
            raise
        return client

    def _login(self, client: IMAPClient) -> None:
        """Password or XOAUTH2; one fresh token is tried when the cached one is refused."""
        s = self.settings
        try:
            if s.token_provider is None:
                client.login(s.user, s.password or "")
                return
            try:
                client.oauth2_login(s.user, _token(s.token_provider))
            except LoginError:
                s.token_provider.invalidate()
                client.oauth2_login(s.user, _token(s.token_provider))
        except LoginError as exc:
            raise MailboxAuthError(f"{self._link.name}: login refused") from exc

    def _drop(self) -> None:
        client, self._client = self._client, None
        self._selected = None
        if client is not None:
            _quietly_shutdown(client)

    # -- helpers -------------------------------------------------------------------------

    def _select(self, client: IMAPClient, folder: str, *, fresh: bool = False) -> str:
        """Select ``folder`` (if not already) and return its UIDVALIDITY as text.

        ``fresh``: a session's view of a selected folder is only brought up to date at
        certain commands (Dovecot: not at SEARCH), so a NOOP first lets listings see
        mail other sessions delivered.
        """
        if self._selected is not None and self._selected[0] == folder:
            if fresh:
                client.noop()
            return self._selected[1]
        info = client.select_folder(folder)
        uidvalidity = str(info.get(b"UIDVALIDITY", ""))
        self._selected = (folder, uidvalidity)
        return uidvalidity

    def _read(
        self, place: tuple[str, str], read: Reader[T], uids: list[int], client: IMAPClient
    ) -> dict[int, T]:
        """``read`` of ``uids`` in folder ``place``; nothing when it was renumbered."""
        return read(client, uids) if self._select(client, place[0]) == place[1] else {}

    def _move_set(self, place: tuple[str, str], targets: dict[str, list[int]], client: IMAPClient) -> None:
        if self._select(client, place[0]) != place[1]:
            log.warning("not moving from %s: the folder was renumbered", place[0])
            return
        imap_batch.move_present(
            client, targets, has_move=self._has(client, b"MOVE"), has_uidplus=self._has(client, b"UIDPLUS")
        )

    def _ref(self, folder: str, uidvalidity: str, uid: int) -> MailboxRef:
        return MailboxRef(self.identity, folder, uidvalidity, str(uid))

    def _has(self, client: IMAPClient, capability: bytes) -> bool:
        return capability not in self._disabled and bool(client.has_capability(capability))

    def _has_unlisted(self, client: IMAPClient) -> bool:
        if self._listed is None:
            return bool(client.search(["NOT", "DELETED"]))
        uidvalidity, highest = self._listed
        if self._selected is None or self._selected[1] != uidvalidity:
            return True
        # "N:*" always matches the highest UID, even below N: compare, not count.
        found = client.search(["UID", f"{highest + 1}:*", "NOT", "DELETED"])
        return any(int(uid) > highest for uid in found)

    def _idle(self, client: IMAPClient, deadline: float) -> bool:
        """IDLE in turns of at most ``idle_cap`` until EXISTS arrives or the deadline."""
        while (remaining := deadline - self._clock()) > 0:
            client.idle()
            responses = idle_turn(client, min(remaining, self._idle_cap), self._clock)
            _, done_responses = client.idle_done()
            if new_mail(responses) or new_mail(done_responses):
                return True
        return False

    def _poll(self, client: IMAPClient, deadline: float) -> bool:
        while (remaining := deadline - self._clock()) > 0:
            self._sleep(min(self._poll_interval, remaining))
            client.noop()
            if self._has_unlisted(client):
                return True
        return False


def _token(provider: TokenSource) -> str:
    try:
        return provider.token()
    except TokenError as exc:
        if exc.temporary:
            raise MailboxConnectionError(f"no access token: {exc}") from exc
        raise MailboxAuthError(f"no access token: {exc}") from exc


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify the server's certificate and name; ``ca_file`` replaces the system CAs."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _subscribe(client: IMAPClient, folder: str) -> None:
    """Subscribe so people see the folder in their mail client; failure is harmless."""
    try:
        client.subscribe_folder(folder)
    except IMAPClientError:
        log.debug("could not subscribe folder %s", folder)


def _quietly_shutdown(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except (OSError, IMAPClientError):
        pass  # the socket is already gone; nothing to release


def _aware(value: object) -> datetime | None:
    """imapclient gives INTERNALDATE as a naive local time (or aware): make it aware."""
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=None).astimezone(UTC)


def _brief(exc: BaseException) -> str:
    """Server error text cut short; IMAP errors name commands, not message contents."""
    return str(exc)[:200]
