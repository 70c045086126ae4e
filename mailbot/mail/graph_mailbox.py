"""A Microsoft 365 mailbox read through Microsoft Graph (``graph://USER/Inbox``).

New mail is found with Graph delta queries on the inbox folder
(``/users/{user}/mailFolders/{id}/messages/delta``): the first round lists the folder,
later rounds only what changed, each round ending in an ``@odata.deltaLink``. The backend
keeps, per mailbox folder, the last delta link and the ids now in the folder (the
*state*), and hands it to a ``DeltaStore`` after every completed round, so a restart
resumes exactly where the last round ended. A link Graph has forgotten (410 Gone,
``syncStateNotFound``, ``resyncRequired``) starts a full round again; since every id is
immutable (``Prefer: IdType="ImmutableId"``) the refs come out the same, and the
intake's idempotency keys make a message seen again harmless.

A ref is ``MailboxRef("graph://USER", "Inbox", "", <immutable id>)``. ``fetch`` reads the
raw MIME from ``/messages/{id}/$value``; ``move`` uses ``/messages/{id}/move`` after
checking the message is still in the folder the ref names (so a repeat, or a message a
person already moved, is left alone); the folders ``Processed``, ``Quarantine`` and
``Other`` are made under the inbox (``childFolders``) when missing.

The state holds message ids and receipt times only: no subject, no address. Not
thread-safe: one object per thread, like the IMAP backend.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote

from mailbot.errors import MailboxAuthError, MailboxConnectionError, MailboxError
from mailbot.mail.graph_client import (
    IMMUTABLE_ID,
    GraphAuthError,
    GraphClient,
    GraphError,
    GraphSyncReset,
    GraphUnavailable,
    permission_problem,
)
from mailbot.mail.graph_delta import DeltaState, DeltaStore, MemoryDeltaStore, delta_key
from mailbot.mail.graph_errors import short_id, status_of
from mailbot.mail.mailbox import MailboxRef, MessageGone, OneByOne, StoredMessage

log = logging.getLogger(__name__)

READ_WRITE = "Mail.ReadWrite"
#: Graph's well-known folder names that a ``graph://`` path may start with.
WELL_KNOWN = frozenset(
    {"inbox", "archive", "junkemail", "deleteditems", "drafts", "sentitems", "msgfolderroot"}
)
#: How often ``wait_for_new`` asks for changes: one delta request, usually empty.
POLL_INTERVAL = 10.0
PAGE_SIZE = 50
_FOLDER_EXISTS = "ErrorFolderExists"


class GraphMailbox(OneByOne):
    """The ``Mailbox`` protocol over Microsoft Graph for one user's folder."""

    def __init__(
        self,
        client: GraphClient,
        user: str,
        folder: str = "Inbox",
        *,
        store: DeltaStore | None = None,
        poll_interval: float = POLL_INTERVAL,
        page_size: int = PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.user = user
        self.folder = folder.strip("/") or "Inbox"
        self.store: DeltaStore = store if store is not None else MemoryDeltaStore()
        self._poll_interval = poll_interval
        self._page_size = page_size
        self._sleep = sleep
        self._clock = clock
        self._base = f"/users/{quote(user, safe='@')}"
        self._key = delta_key(self.identity, self.folder)
        self._state: DeltaState | None = None
        self._saved: str | None = None
        self._listed: set[str] | None = None
        self._paths: dict[str, str] = {}  # folder path -> folder id
        self._children: dict[str, dict[str, str]] = {}  # parent id -> {lower name: id}

    @property
    def identity(self) -> str:
        return f"graph://{quote(self.user, safe='')}"

    # -- the protocol ------------------------------------------------------------------

    def list_new(self) -> list[MailboxRef]:
        """Every message now in the folder, oldest first (after one delta round)."""
        with self._errors():
            state = self._sync()
        order = state.order()
        self._listed = set(order)
        return [MailboxRef(self.identity, self.folder, "", key) for key in order]

    def fetch(self, ref: MailboxRef) -> bytes:
        """The message's MIME as Exchange keeps it (``$value``)."""
        self._check_ref(ref)
        try:
            with self._errors():
                response = self.client.request(
                    "GET", f"{self._message(ref.uid)}/$value", prefer=[IMMUTABLE_ID]
                )
        except MailboxError as exc:
            if status_of(exc) == 404:
                raise MessageGone(f"message {short_id(ref.uid)} is not in the mailbox") from exc
            raise
        return bytes(response.content)

    def move(self, ref: MailboxRef, folder: str) -> None:
        """Move out of the ref's folder into ``folder``; left alone when no longer there."""
        self._check_ref(ref)
        with self._errors():
            target = self._folder_id(folder, create=True)
            source = self._path_id(ref.folder)
            try:
                found = self.client.request(
                    "GET", self._message(ref.uid), params={"$select": "parentFolderId"}, prefer=[IMMUTABLE_ID]
                ).json()
            except GraphError as exc:
                if exc.status == 404:
                    self._forget(ref.uid)
                    return  # deleted, or moved to another mailbox: nothing to do
                raise
            if found.get("parentFolderId") != source:
                self._forget(ref.uid)
                return  # already moved (a repeat after a crash), or a person moved it
            try:
                self.client.request(
                    "POST",
                    f"{self._message(ref.uid)}/move",
                    json_body={"destinationId": target},
                    prefer=[IMMUTABLE_ID],
                )
            except GraphError as exc:
                if exc.status != 404:
                    raise
        self._forget(ref.uid)

    def ensure_folder(self, folder: str) -> None:
        """Make ``folder`` under the inbox folder when missing."""
        with self._errors():
            self._folder_id(folder, create=True)

    def list_folder(self, folder: str) -> list[StoredMessage]:
        """The folder's messages (ids and ``receivedDateTime``), page by page."""
        with self._errors():
            try:
                folder_id = self._folder_id(folder, create=False)
            except MailboxError:
                return []  # no such folder yet: nothing was ever filed there
            target = f"{self._base}/mailFolders/{quote(folder_id, safe='')}/messages"
            params: dict[str, str] | None = {"$select": "id,receivedDateTime", "$top": "100"}
            found = []
            for _ in range(100_000):
                page = self.client.request("GET", target, params=params, prefer=[IMMUTABLE_ID]).json()
                params = None
                for item in page.get("value", []):
                    found.append(
                        StoredMessage(
                            MailboxRef(self.identity, folder, "", str(item["id"])),
                            _when(item.get("receivedDateTime")),
                        )
                    )
                link = page.get("@odata.nextLink")
                if not isinstance(link, str):
                    break
                target = link
        return found

    def delete(self, ref: MailboxRef) -> None:
        """``permanentDelete``: a plain DELETE would only move it to Deleted Items."""
        self._check_ref(ref)
        with self._errors():
            try:
                self.client.request(
                    "POST", f"{self._message(ref.uid)}/permanentDelete", prefer=[IMMUTABLE_ID]
                )
            except GraphError as exc:
                if exc.status != 404:
                    raise
        self._forget(ref.uid)

    def append(self, raw: bytes, folder: str | None = None) -> None:
        """Create a message from MIME in the folder (the demo and the tests use this)."""
        with self._errors():
            target = self._folder_id(folder or self.folder, create=True)
            self.client.request(
                "POST",
                f"{self._base}/mailFolders/{quote(target, safe='')}/messages",
                data=base64.b64encode(raw),
                content_type="text/plain",
                prefer=[IMMUTABLE_ID],
            )

    def wait_for_new(self, timeout: float) -> bool:
        """True once the folder holds a message the last ``list_new`` did not return.

        Each look is one delta request (an empty page when nothing changed), repeated
        every ``poll_interval`` seconds; mail that came after the last listing counts at
        once. Graph could push instead (change notifications), but that needs a public
        HTTPS endpoint, which a bot inside a council network does not have.
        """
        deadline = self._clock() + max(0.0, timeout)
        while True:
            with self._errors():
                state = self._sync()
            if self._listed is None and state.inbox:
                return True
            if self._listed is not None and not state.inbox.keys() <= self._listed:
                return True
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            self._sleep(min(self._poll_interval, remaining))

    def close(self) -> None:
        self.client.close()

    def folder_status(self, wanted: tuple[str, ...]) -> tuple[int, list[str]]:
        """(messages in the folder, which of ``wanted`` are missing under it): no changes.

        For ``mailbot check``: no delta round runs, so the stored state is untouched.
        """
        with self._errors():
            folder_id = self._path_id(self.folder)
            folder = self.client.request(
                "GET",
                f"{self._base}/mailFolders/{quote(folder_id, safe='')}",
                params={"$select": "id,totalItemCount"},
            ).json()
            children = self._list_children(folder_id)
        return int(folder.get("totalItemCount", 0)), [w for w in wanted if w.lower() not in children]

    # -- delta rounds -------------------------------------------------------------------

    def _load(self) -> DeltaState:
        if self._state is None:
            self._saved = self.store.get(self._key)
            state = DeltaState.loads(self._saved)
            if state.link is not None and not self.client.owns(state.link):
                state.link = None  # saved for another Graph host (m365.graph_url changed)
            self._state = state
        return self._state

    def _sync(self) -> DeltaState:
        """One delta round (or a full one), applied to the state and saved."""
        state = self._load()
        for _ in range(2):
            try:
                if state.link is None:
                    self._full_round(state)
                else:
                    self._delta_round(state, state.link)
            except GraphSyncReset:
                log.warning(
                    "%s: Graph no longer knows the delta token; reading the folder again", self.identity
                )
                state.link = None
                continue
            text = state.dumps()
            if text != self._saved:  # an empty round with the same link writes nothing
                self.store.put(self._key, text)
                self._saved = text
            return state
        raise MailboxError("Microsoft Graph refused a fresh delta token twice in a row")

    def _full_round(self, state: DeltaState) -> None:
        start = f"{self._base}/mailFolders/{quote(self._path_id(self.folder), safe='')}/messages/delta"
        entries, link = self._round(start, {"$select": "id,receivedDateTime"})
        present = {e["id"]: e for e in entries if "@removed" not in e}
        for key in list(state.inbox):
            if key not in present:
                del state.inbox[key]
        for entry in entries:
            if entry["id"] in present:
                state.add(entry["id"], entry.get("receivedDateTime"))
        state.link = link

    def _delta_round(self, state: DeltaState, link: str) -> None:
        entries, new_link = self._round(link, None)
        for entry in entries:
            if "@removed" in entry:
                state.inbox.pop(entry["id"], None)
            else:
                state.add(entry["id"], entry.get("receivedDateTime"))
        state.link = new_link

    def _round(self, start: str, params: dict[str, str] | None) -> tuple[list[dict[str, Any]], str]:
        """Follow ``@odata.nextLink`` pages to the ``@odata.deltaLink``."""
        entries: list[dict[str, Any]] = []
        target: str = start
        prefer = [IMMUTABLE_ID, f"odata.maxpagesize={self._page_size}"]
        for _ in range(100_000):
            page = self.client.request("GET", target, params=params, prefer=prefer).json()
            params = None  # the links carry the query from here on
            for entry in page.get("value", []):
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    entries.append(entry)
            if isinstance(page.get("@odata.deltaLink"), str):
                return entries, page["@odata.deltaLink"]
            if not isinstance(page.get("@odata.nextLink"), str):
                raise MailboxError("Microsoft Graph ended a delta page without a link")
            target = page["@odata.nextLink"]
        raise MailboxError("Microsoft Graph's delta paging did not end")

    def _forget(self, message_id: str) -> None:
        """Out of the folder now; the next delta round reports it too (harmless)."""
        if self._state is not None:
            self._state.inbox.pop(message_id, None)

    # -- folders ----------------------------------------------------------------------

    def _folder_id(self, folder: str, *, create: bool) -> str:
        """The mailbox folder itself, or a folder of that name under it."""
        if folder == self.folder or (folder.upper() == "INBOX" and self.folder.lower() == "inbox"):
            return self._path_id(self.folder)
        return self._child(self._path_id(self.folder), folder, create=create)

    def _path_id(self, path: str) -> str:
        """``Inbox`` or ``Inbox/Referrals``: a well-known name, then display names."""
        if path in self._paths:
            return self._paths[path]
        parts = [p for p in path.split("/") if p]
        first = parts[0] if parts else "Inbox"
        if first.lower() in WELL_KNOWN:
            found = self.client.request(
                "GET", f"{self._base}/mailFolders/{first.lower()}", params={"$select": "id"}
            ).json()
            current = str(found["id"])
        else:
            current = self._child(self._path_id("msgfolderroot"), first, create=False)
        for part in parts[1:]:
            current = self._child(current, part, create=False)
        self._paths[path] = current
        return current

    def _child(self, parent: str, name: str, *, create: bool) -> str:
        known = self._children.get(parent)
        if known is None or name.lower() not in known:
            known = self._children[parent] = self._list_children(parent)
        if name.lower() in known:
            return known[name.lower()]
        if not create:
            raise MailboxError(f"the mailbox has no folder {name}")
        try:
            made = self.client.request(
                "POST",
                f"{self._base}/mailFolders/{quote(parent, safe='')}/childFolders",
                json_body={"displayName": name},
            ).json()
        except GraphError as exc:
            if exc.code != _FOLDER_EXISTS:  # made meanwhile by another worker (400 or 409)
                raise
            known = self._children[parent] = self._list_children(parent)
            if name.lower() not in known:
                raise
            return known[name.lower()]
        known[name.lower()] = str(made["id"])
        return known[name.lower()]

    def _list_children(self, parent: str) -> dict[str, str]:
        found: dict[str, str] = {}
        target = f"{self._base}/mailFolders/{quote(parent, safe='')}/childFolders"
        params: dict[str, str] | None = {"$select": "id,displayName", "$top": "100"}
        for _ in range(1000):
            page = self.client.request("GET", target, params=params).json()
            params = None
            for item in page.get("value", []):
                found[str(item["displayName"]).lower()] = str(item["id"])
            link = page.get("@odata.nextLink")
            if not isinstance(link, str):
                break
            target = link
        return found

    # -- helpers ------------------------------------------------------------------------

    def _message(self, message_id: str) -> str:
        return f"{self._base}/messages/{quote(message_id, safe='')}"

    def _check_ref(self, ref: MailboxRef) -> None:
        if ref.mailbox != self.identity:
            raise MailboxError("the message reference belongs to another mailbox")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Graph's errors as the mailbox errors the poller knows."""
        try:
            yield
        except GraphAuthError as exc:
            raise MailboxAuthError(permission_problem(exc, self.user, READ_WRITE)) from exc
        except GraphUnavailable as exc:
            raise MailboxConnectionError(str(exc)) from exc
        except GraphError as exc:
            raise MailboxError(str(exc)) from exc


def _when(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
