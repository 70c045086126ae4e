"""A local stand-in for the few Microsoft Graph endpoints mailbot uses (HTTPS on loopback).

Shaped from Microsoft's documented requests and responses (learn.microsoft.com/graph):

* ``GET /users/{u}/mailFolders/{id|well-known name}``: a mailFolder.
* ``GET|POST /users/{u}/mailFolders/{id}/childFolders``: list (paged with
  ``@odata.nextLink``) and create; a name already there is ``409 ErrorFolderExists``.
* ``GET /users/{u}/mailFolders/{id}/messages/delta``: delta query. The first round lists
  the folder; later rounds (``$deltatoken``) return what changed, a message that left the
  folder as ``{"id": ..., "@removed": {"reason": "deleted"}}``. Pages follow
  ``Prefer: odata.maxpagesize`` (default 10) and link onward with ``@odata.nextLink``
  (``$skiptoken``); the last page carries ``@odata.deltaLink``. Links use Graph's
  ``mailFolders('id')`` form. ``expire_delta_tokens`` makes every token handed out so
  far answer ``410 Gone`` (``SyncStateNotFound``, with a ``Location`` to start again) or
  another documented refusal (``resyncRequired``).
* ``GET /users/{u}/messages/{id}`` (``$select``), ``GET .../{id}/$value`` (the MIME),
  ``POST .../{id}/move`` (``201`` and the message), ``POST /users/{u}/mailFolders/{id}/messages``
  (create from base64 MIME, ``text/plain``), ``POST /users/{u}/sendMail`` (base64 MIME,
  ``202``, and a copy in Sent Items as Microsoft documents).

Ids: every message has an immutable id, returned when the request says
``Prefer: IdType="ImmutableId"``; otherwise the "REST id", which changes at every move.

Access: a bearer token the ``token_ok`` function accepts (the fake login's), else 401
``InvalidAuthenticationToken``; ``granted`` lists the app's permissions (403
``ErrorAccessDenied`` for a missing one). ``fail_next`` answers the next N matching
requests with 429 (``Retry-After``) or a 5xx, as Graph's throttling does.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import secrets
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

WELL_KNOWN = ("msgfolderroot", "inbox", "sentitems", "drafts", "deleteditems", "archive", "junkemail")
DISPLAY = {
    "msgfolderroot": "Top of Information Store",
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "drafts": "Drafts",
    "deleteditems": "Deleted Items",
    "archive": "Archive",
    "junkemail": "Junk Email",
}
READ = ("Mail.Read", "Mail.ReadWrite")
WRITE = ("Mail.ReadWrite",)
SEND = ("Mail.Send",)
MAX_REQUEST = 4 * 1024 * 1024


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None
    well_known: str | None = None


@dataclass
class Message:
    id: str  # immutable
    folder: str
    raw: bytes
    received: str
    seq: int
    placed: int  # event number of its arrival in the current folder
    moves: int = 0
    draft: bool = False


@dataclass
class Fault:
    status: int
    count: int
    match: str | None = None  # a substring of "METHOD /path"
    retry_after: str | None = None
    code: str = ""


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    prefer: str
    content_type: str


@dataclass
class Mailbox:
    upn: str
    folders: dict[str, Folder] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    #: (event number, folder id, message id): every arrival in and departure from a folder.
    events: list[tuple[int, str, str]] = field(default_factory=list)


class FakeGraph:
    """The state behind the server; every method is safe to call from the tests."""

    def __init__(self, token_ok: Callable[[str], bool]) -> None:
        self.token_ok = token_ok
        self.base_url = ""  # set when the server starts: https://127.0.0.1:PORT/v1.0
        self.lock = threading.RLock()
        self.mailboxes: dict[str, Mailbox] = {}
        self.granted: set[str] = {"Mail.ReadWrite", "Mail.Send"}
        self.rejected_tokens: set[str] = set()
        self.accept_tokens = True  # False: every token is refused (a revoked app)
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.sent: list[bytes] = []
        self.folder_page_size = 100
        self.exists_status = 409
        #: token -> (folder id, event position) for delta tokens; skip tokens -> pages.
        self._delta_tokens: dict[str, tuple[str, str, int]] = {}
        self._skip_pages: dict[str, tuple[list[dict[str, Any]], str | None, str, int]] = {}
        self._expired: dict[str, tuple[int, str]] = {}
        self._counter = itertools.count(1)

    # -- set-up and inspection for tests -------------------------------------------------

    def add_user(self, upn: str) -> Mailbox:
        with self.lock:
            box = Mailbox(upn)
            root = Folder(_new_id("F"), DISPLAY["msgfolderroot"], None, "msgfolderroot")
            box.folders[root.id] = root
            for name in WELL_KNOWN[1:]:
                folder = Folder(_new_id("F"), DISPLAY[name], root.id, name)
                box.folders[folder.id] = folder
            self.mailboxes[upn.lower()] = box
            return box

    def deliver(self, upn: str, raw: bytes, folder: str = "inbox") -> str:
        """Mail arriving from outside; returns the immutable id."""
        with self.lock:
            box = self.mailboxes[upn.lower()]
            return self._create(box, self._folder(box, folder).id, raw).id

    def folder_contents(self, upn: str, name: str, parent: str = "inbox") -> list[bytes]:
        """The MIME of each message in a folder under ``parent``, in order of arrival there."""
        with self.lock:
            box = self.mailboxes[upn.lower()]
            found = [
                f
                for f in box.folders.values()
                if f.parent == self._folder(box, parent).id and f.name.lower() == name.lower()
            ]
            if not found:
                return []
            inside = [m for m in box.messages.values() if m.folder == found[0].id]
            return [m.raw for m in sorted(inside, key=lambda m: m.placed)]

    def inbox_ids(self, upn: str) -> list[str]:
        with self.lock:
            box = self.mailboxes[upn.lower()]
            inbox = self._folder(box, "inbox").id
            return [m.id for m in sorted(box.messages.values(), key=lambda m: m.seq) if m.folder == inbox]

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        match: str | None = None,
        retry_after: str | None = None,
        code: str = "",
    ) -> None:
        with self.lock:
            self.faults.append(Fault(status, count, match, retry_after, code))

    def expire_delta_tokens(self, status: int = 410, code: str = "SyncStateNotFound") -> None:
        """Every delta and skip token handed out so far is forgotten, as Graph may do."""
        with self.lock:
            for token in [*self._delta_tokens, *self._skip_pages]:
                self._expired[token] = (status, code)
            self._delta_tokens.clear()
            self._skip_pages.clear()

    def requests_to(self, fragment: str) -> list[Logged]:
        with self.lock:
            return [r for r in self.log if fragment in f"{r.method} {r.path}"]

    # -- request handling ------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        path = unquote(re.sub(r"\('([^']*)'\)", r"/\1", split.path))
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        prefer = headers.get("prefer", "")
        with self.lock:
            self.log.append(Logged(method, path, query, prefer, headers.get("content-type", "")))
            fault = self._fault(f"{method} {path}")
            if fault is not None:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                code = fault.code or ("TooManyRequests" if fault.status == 429 else "ServiceUnavailable")
                return _error(fault.status, code, "Injected failure.", extra)
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if (
                not token
                or not self.accept_tokens
                or token in self.rejected_tokens
                or not self.token_ok(token)
            ):
                return _error(401, "InvalidAuthenticationToken", "Access token validation failure.")
            if not path.startswith("/v1.0/users/"):
                return _error(400, "BadRequest", "Resource not found for the segment.")
            parts = path[len("/v1.0/users/") :].split("/")
            box = self.mailboxes.get(parts[0].lower())
            if box is None:
                return _error(404, "ErrorInvalidUser", "The requested user is invalid.")
            try:
                return self._route(box, method, parts[1:], query, prefer, headers, body)
            except _Refusal as refusal:
                return refusal.response

    def _route(
        self,
        box: Mailbox,
        method: str,
        parts: list[str],
        query: dict[str, str],
        prefer: str,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        immutable = 'idtype="immutableid"' in prefer.lower().replace(" ", "")
        match (method, parts):
            case ("POST", ["sendMail"]):
                self._need(SEND)
                return self._send(box, headers, body)
            case ("GET", ["mailFolders", folder]):
                self._need(READ)
                return _json(200, self._folder_json(box, self._folder(box, folder)))
            case ("GET", ["mailFolders", folder, "childFolders"]):
                self._need(READ)
                return self._children(box, self._folder(box, folder), query)
            case ("POST", ["mailFolders", folder, "childFolders"]):
                self._need(WRITE)
                return self._make_folder(box, self._folder(box, folder), body)
            case ("GET", ["mailFolders", folder, "messages", "delta"]):
                self._need(READ)
                return self._delta(box, self._folder(box, folder), query, prefer, immutable)
            case ("GET", ["mailFolders", folder, "messages"]):
                self._need(READ)
                return self._list(box, self._folder(box, folder), query, immutable)
            case ("POST", ["messages", message_id, "permanentDelete"]):
                self._need(WRITE)
                found = self._message(box, message_id)
                box.events.append((next(self._counter), found.folder, found.id))
                del box.messages[found.id]
                return 204, {}, b""
            case ("POST", ["mailFolders", folder, "messages"]):
                self._need(WRITE)
                raw = _mime(headers, body)
                made = self._create(box, self._folder(box, folder).id, raw, draft=True)
                return _json(201, self._message_json(box, made, immutable, None))
            case ("GET", ["messages", message_id]):
                self._need(READ)
                found = self._message(box, message_id)
                return _json(200, self._message_json(box, found, immutable, query.get("$select")))
            case ("GET", ["messages", message_id, "$value"]):
                self._need(READ)
                return 200, {"Content-Type": "text/plain"}, self._message(box, message_id).raw
            case ("POST", ["messages", message_id, "move"]):
                self._need(WRITE)
                found = self._message(box, message_id)
                destination = json.loads(body or b"{}").get("destinationId", "")
                self._move(box, found, self._folder(box, destination).id)
                return _json(201, self._message_json(box, found, immutable, None))
        return _error(400, "BadRequest", "Resource not found for the segment.")

    # -- endpoints ---------------------------------------------------------------------------

    def _send(self, box: Mailbox, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if len(body) > MAX_REQUEST:
            return _error(413, "RequestEntityTooLarge", "The request is too large.")
        if not headers.get("content-type", "").startswith("text/plain"):
            return _error(400, "ErrorInvalidParameter", "This stand-in takes MIME only.")
        raw = _mime(headers, body)
        self.sent.append(raw)
        self._create(box, self._folder(box, "sentitems").id, raw)  # "saves the message in Sent Items"
        return 202, {}, b""

    def _children(
        self, box: Mailbox, parent: Folder, query: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        children = [f for f in box.folders.values() if f.parent == parent.id]
        top = min(int(query.get("$top", self.folder_page_size)), self.folder_page_size)
        skip = int(query.get("$skip", "0"))
        page = children[skip : skip + top]
        payload: dict[str, Any] = {"value": [self._folder_json(box, f) for f in page]}
        if skip + top < len(children):
            payload["@odata.nextLink"] = (
                f"{self.base_url}/users/{quote(box.upn)}/mailFolders('{parent.id}')"
                f"/childFolders?$top={top}&$skip={skip + top}"
            )
        return _json(200, payload)

    def _list(
        self, box: Mailbox, folder: Folder, query: dict[str, str], immutable: bool
    ) -> tuple[int, dict[str, str], bytes]:
        """A folder's messages, ``$top`` a page, ``@odata.nextLink`` with ``$skip``."""
        inside = sorted((m for m in box.messages.values() if m.folder == folder.id), key=lambda m: m.placed)
        top = min(int(query.get("$top", "10")), self.folder_page_size)
        skip = int(query.get("$skip", "0"))
        page = [
            self._message_json(box, m, immutable, query.get("$select")) for m in inside[skip : skip + top]
        ]
        payload: dict[str, Any] = {"value": page}
        if skip + top < len(inside):
            payload["@odata.nextLink"] = (
                f"{self.base_url}/users/{quote(box.upn)}/mailFolders/{folder.id}"
                f"/messages?$top={top}&$skip={skip + top}"
                f"&$select={query.get('$select', '')}"
            )
        return _json(200, payload)

    def _make_folder(self, box: Mailbox, parent: Folder, body: bytes) -> tuple[int, dict[str, str], bytes]:
        name = str(json.loads(body or b"{}").get("displayName", "")).strip()
        if not name:
            return _error(400, "ErrorInvalidRequest", "The displayName is missing.")
        if any(f.parent == parent.id and f.name.lower() == name.lower() for f in box.folders.values()):
            return _error(
                self.exists_status, "ErrorFolderExists", "A folder with the specified name already exists."
            )
        folder = Folder(_new_id("F"), name, parent.id)
        box.folders[folder.id] = folder
        return _json(201, self._folder_json(box, folder))

    def _delta(
        self, box: Mailbox, folder: Folder, query: dict[str, str], prefer: str, immutable: bool
    ) -> tuple[int, dict[str, str], bytes]:
        size = 10
        found = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        if found:
            size = max(1, int(found.group(1)))
        link = f"{self.base_url}/users/{quote(box.upn)}/mailFolders('{folder.id}')/messages/delta"
        for name in ("$skiptoken", "$deltatoken"):
            token = query.get(name)
            if token and token in self._expired:
                status, code = self._expired[token]
                extra = {"Location": f"{link}?$deltatoken="} if status == 410 else {}
                return _error(
                    status,
                    code,
                    "The sync state generation is not found. The delta token "
                    "is expired and data must be synchronized again.",
                    extra,
                )
        if "$skiptoken" in query:
            stored = self._skip_pages.pop(query["$skiptoken"], None)
            if stored is None or stored[2] != folder.id:
                return _error(400, "ErrorInvalidSyncStateData", "The sync state data is invalid.")
            entries, select, _, position = stored
            return self._delta_page(folder, entries, size, select, link, position)
        now = box.events[-1][0] if box.events else 0  # the round's snapshot point
        if "$deltatoken" in query and query["$deltatoken"]:
            known = self._delta_tokens.get(query["$deltatoken"])
            if known is None or known[0] != folder.id:
                return _error(400, "ErrorInvalidSyncStateData", "The sync state data is invalid.")
            _, select_text, position = known
            select = select_text or None
            changed: dict[str, None] = {}
            for number, where, message_id in box.events:
                if number > position and where == folder.id:
                    changed.pop(message_id, None)
                    changed[message_id] = None
            entries = []
            for message_id in changed:
                message = box.messages.get(message_id)
                if message is not None and message.folder == folder.id:
                    entries.append(self._message_json(box, message, immutable, select))
                else:
                    shown = message_id if immutable or message is None else _rest_id(message)
                    entries.append(
                        {
                            "@odata.type": "#microsoft.graph.message",
                            "id": shown,
                            "@removed": {"reason": "deleted"},
                        }
                    )
        else:
            select = query.get("$select")
            inside = sorted((m for m in box.messages.values() if m.folder == folder.id), key=lambda m: m.seq)
            entries = [self._message_json(box, m, immutable, select) for m in inside]
        return self._delta_page(folder, entries, size, select, link, now)

    def _delta_page(
        self,
        folder: Folder,
        entries: list[dict[str, Any]],
        size: int,
        select: str | None,
        link: str,
        position: int,
    ) -> tuple[int, dict[str, str], bytes]:
        page, rest = entries[:size], entries[size:]
        payload: dict[str, Any] = {
            "@odata.context": f"{self.base_url}/$metadata#Collection(message)",
            "value": page,
        }
        if rest:
            token = secrets.token_urlsafe(12)
            self._skip_pages[token] = (rest, select, folder.id, position)
            payload["@odata.nextLink"] = f"{link}?$skiptoken={token}"
        else:
            token = secrets.token_urlsafe(12)
            self._delta_tokens[token] = (folder.id, select or "", position)
            payload["@odata.deltaLink"] = f"{link}?$deltatoken={token}"
        return _json(200, payload)

    # -- model ---------------------------------------------------------------------------

    def _create(self, box: Mailbox, folder: str, raw: bytes, *, draft: bool = False) -> Message:
        number = next(self._counter)
        received = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # Graph: whole seconds
        message = Message(
            _new_id("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A"),
            folder,
            raw,
            received,
            number,
            number,
            draft=draft,
        )
        box.messages[message.id] = message
        box.events.append((number, folder, message.id))
        return message

    def _move(self, box: Mailbox, message: Message, destination: str) -> None:
        number = next(self._counter)
        box.events.append((number, message.folder, message.id))
        message.folder = destination
        message.moves += 1
        message.placed = number
        box.events.append((number, destination, message.id))

    def _folder(self, box: Mailbox, name: str) -> Folder:
        for folder in box.folders.values():
            if folder.id == name or (folder.well_known and folder.well_known == name.lower()):
                return folder
        raise _Refusal(_error(404, "ErrorItemNotFound", "The specified object was not found in the store."))

    def _message(self, box: Mailbox, message_id: str) -> Message:
        for message in box.messages.values():
            if message_id in (message.id, _rest_id(message)):
                return message
        raise _Refusal(_error(404, "ErrorItemNotFound", "The specified object was not found in the store."))

    def _folder_json(self, box: Mailbox, folder: Folder) -> dict[str, Any]:
        inside = [m for m in box.messages.values() if m.folder == folder.id]
        return {
            "id": folder.id,
            "displayName": folder.name,
            "parentFolderId": folder.parent,
            "childFolderCount": sum(1 for f in box.folders.values() if f.parent == folder.id),
            "unreadItemCount": len(inside),
            "totalItemCount": len(inside),
            "isHidden": False,
        }

    def _message_json(
        self, box: Mailbox, message: Message, immutable: bool, select: str | None
    ) -> dict[str, Any]:
        full = {
            "@odata.type": "#microsoft.graph.message",
            "@odata.etag": f'W/"CQAAABYAAAA{message.seq:08d}"',
            "id": message.id if immutable else _rest_id(message),
            "receivedDateTime": message.received,
            "isDraft": message.draft,
            "isRead": False,
            "parentFolderId": message.folder,
            "subject": "(not shown by this stand-in)",
        }
        if not select:
            return full
        keep = {"id", "@odata.type", "@odata.etag"} | {s.strip() for s in select.split(",")}
        return {k: v for k, v in full.items() if k in keep}

    def _need(self, permissions: tuple[str, ...]) -> None:
        if not self.granted.intersection(permissions):
            raise _Refusal(
                _error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            )

    def _fault(self, request: str) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0 and (fault.match is None or fault.match in request):
                fault.count -= 1
                return fault
        return None


class _Refusal(Exception):
    def __init__(self, response: tuple[int, dict[str, str], bytes]) -> None:
        super().__init__(response[0])
        self.response = response


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24).replace("-", "A") + "="


def _rest_id(message: Message) -> str:
    return f"R{message.moves}{message.id[1:]}"


def _mime(headers: dict[str, str], body: bytes) -> bytes:
    if not headers.get("content-type", "").startswith("text/plain"):
        raise _Refusal(_error(415, "UnsupportedMediaType", "Expected text/plain MIME."))
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise _Refusal(
            _error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
        ) from None


def _json(status: int, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _error(
    status: int, code: str, message: str, extra: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"request-id": secrets.token_hex(8), "date": "2026-10-12T09:15:00"},
        }
    }
    status_, headers, data = _json(status, body)
    headers.update(extra or {})
    return status_, headers, data


def _handler(fake: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, data = fake.handle(self.command, self.path, headers, body)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve  # noqa: N815 - the http.server naming
        do_POST = _serve  # noqa: N815

    return Handler


@contextmanager
def running_fake_graph(context: ssl.SSLContext, token_ok: Callable[[str], bool]) -> Iterator[FakeGraph]:
    """Start the stand-in on a free loopback port (HTTPS with ``context``); stop it after."""
    fake = FakeGraph(token_ok)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.base_url = f"https://127.0.0.1:{server.server_address[1]}/v1.0"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# -- wiring for the tests: the stand-in, the fake login, and mailbot's Graph backends ----------

USER = "cscp@example.org"


def serve_fake_graph(test_ca: Any, token_endpoint: Any) -> Iterator[FakeGraph]:
    """Body of a ``fake_graph`` fixture: ``yield from serve_fake_graph(test_ca, token_endpoint)``.

    HTTPS with the session's test CA; accepts exactly the tokens the fake Microsoft login
    (``token_endpoint`` in ``helpers/servers.py``) has issued; one user, ``cscp@example.org``.
    """
    token_endpoint.refuse = False
    issued = token_endpoint.issued
    with running_fake_graph(test_ca.server_context(), lambda token: token in issued) as fake:
        fake.add_user(USER)
        yield fake


@pytest.fixture
def fake_graph(test_ca: Any, token_endpoint: Any) -> Iterator[FakeGraph]:
    """The stand-in, for any test (a plugin fixture: ``conftest.py`` loads this module)."""
    yield from serve_fake_graph(test_ca, token_endpoint)


def access_for(fake: FakeGraph, token_endpoint: Any) -> Any:
    """A ``GraphAccess`` signing in at the fake login and calling the stand-in."""
    from mailbot.mail.graph_client import GraphAccess

    return GraphAccess(
        tenant=token_endpoint.tenant,
        client_id="client-id-1",
        credential="s3cret",
        graph_url=fake.base_url,
        authority_url=token_endpoint.base_url,
        ca_file=str(token_endpoint.ca_file),
    )


def graph_mailbox_parts(
    fake: FakeGraph, token_endpoint: Any
) -> tuple[Any, Callable[[], Any], Callable[[str], list[bytes]]]:
    """(mailbox, open another handle, folder contents) as the mailbox contract's ``Backend`` takes.

    Every handle shares one delta store, as two workers share the database.
    """
    from mailbot.mail.graph_delta import MemoryDeltaStore
    from mailbot.mail.graph_mailbox import GraphMailbox

    access = access_for(fake, token_endpoint)
    store = MemoryDeltaStore()

    def open_one() -> Any:
        return GraphMailbox(access.client(), USER, "Inbox", store=store, poll_interval=0.1)

    return open_one(), open_one, lambda folder: fake.folder_contents(USER, folder)


def graph_sender_parts(fake: FakeGraph, token_endpoint: Any) -> tuple[Any, Callable[[], list[Any]]]:
    """(sender, what was delivered, parsed) as the sender contract's ``SenderBackend`` takes."""
    import email
    import email.policy

    from mailbot.mail.graph_sender import GraphSender

    def delivered() -> list[Any]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in fake.sent]

    return GraphSender(access_for(fake, token_endpoint).client(), USER), delivered
