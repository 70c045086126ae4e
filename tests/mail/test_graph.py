"""The Graph mailbox and sender beyond the shared contracts, against the local stand-in.

Delta state that survives a restart, a delta token Graph has forgotten, paging, immutable
ids across moves, throttling and server errors, refused permissions in plain words,
the ``graph://`` URLs and settings, ``mailbot check``'s Graph lines, and one real bot
(SQLite) reading and answering through Graph while its delta token expires.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import stat
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from helpers.bot import make_env, simple_referral
from helpers.fake_graph import USER, FakeGraph, access_for
from helpers.servers import TestCA, TokenEndpoint

from mailbot.errors import (
    ConfigError,
    MailboxAuthError,
    MailboxConnectionError,
    MailboxError,
    PermanentSendError,
    TemporarySendError,
)
from mailbot.mail.backoff import Backoff
from mailbot.mail.connect import open_mailbox, open_sender, parse_graph_url
from mailbot.mail.graph_check import graph_check_mailbox, graph_check_sender
from mailbot.mail.graph_client import (
    GraphAccess,
    GraphError,
    check_base_url,
    graph_access_from_settings,
    graph_scope,
    jwt_roles,
)
from mailbot.mail.graph_delta import DeltaState, FileDeltaStore, MemoryDeltaStore, delta_key
from mailbot.mail.graph_mailbox import GraphMailbox
from mailbot.mail.graph_sender import GraphSendAuthError, GraphSender
from mailbot.mail.mailbox import FOLDERS, OTHER, PROCESSED, QUARANTINE
from mailbot.settings import load_settings


@pytest.fixture
def fake(fake_graph: FakeGraph) -> FakeGraph:
    return fake_graph


class Waits(list[float]):
    """Records the client's sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def mailbox(
    fake: FakeGraph,
    endpoint: TokenEndpoint,
    store: Any = None,
    *,
    attempts: int = 3,
    waits: Waits | None = None,
    page_size: int = 50,
    access: GraphAccess | None = None,
    poll_interval: float = 0.05,
) -> GraphMailbox:
    access = access or access_for(fake, endpoint)
    client = access.client(
        backoff=Backoff(attempts=attempts, rand=lambda: 0.0), sleep=waits if waits is not None else Waits()
    )
    return GraphMailbox(
        client,
        USER,
        "Inbox",
        store=store if store is not None else MemoryDeltaStore(),
        page_size=page_size,
        poll_interval=poll_interval,
    )


def numbered(n: int) -> bytes:
    return (
        f"From: sender@example.net\r\nTo: cscp@example.org\r\nSubject: test {n}\r\n"
        f"Message-ID: <graph-{n}@example.net>\r\n\r\nbody {n}\r\n"
    ).encode()


def initial_rounds(fake: FakeGraph) -> int:
    """Delta requests that started a full round (no token in the query)."""
    return sum(
        1
        for r in fake.requests_to("/messages/delta")
        if "$deltatoken" not in r.query and "$skiptoken" not in r.query
    )


# -- delta state: restart, expiry, paging -------------------------------------------------


def test_a_restart_resumes_from_the_saved_delta_link(
    fake: FakeGraph, token_endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    store = FileDeltaStore(tmp_path / "var" / "graph-delta.json")
    ids = [fake.deliver(USER, numbered(n)) for n in range(3)]
    first = mailbox(fake, token_endpoint, store)
    refs = first.list_new()
    assert [r.uid for r in refs] == ids
    first.move(refs[0], PROCESSED)
    first.move(refs[1], PROCESSED)
    first.close()
    saved = json.loads(store.path.read_text())[delta_key(first.identity, "Inbox")]
    link = json.loads(saved)["link"]
    late = fake.deliver(USER, numbered(3))  # arrives while the bot is down

    rounds_before = initial_rounds(fake)
    again = mailbox(fake, token_endpoint, FileDeltaStore(store.path))
    assert [r.uid for r in again.list_new()] == [ids[2], late]
    assert initial_rounds(fake) == rounds_before  # no full read of the folder
    resumed = fake.requests_to("/messages/delta")[-1]
    assert resumed.query["$deltatoken"] == link.split("$deltatoken=")[1]
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


@pytest.mark.parametrize(("status", "code"), [(410, "SyncStateNotFound"), (400, "resyncRequired")])
def test_an_expired_delta_token_means_a_full_round_with_the_same_refs(
    fake: FakeGraph, token_endpoint: TokenEndpoint, status: int, code: str
) -> None:
    box = mailbox(fake, token_endpoint)
    fake.deliver(USER, numbered(1))
    fake.deliver(USER, numbered(2))
    first, second = box.list_new()
    box.move(first, PROCESSED)
    fake.expire_delta_tokens(status, code)
    late = fake.deliver(USER, numbered(3))
    rounds_before = initial_rounds(fake)
    after = box.list_new()
    assert initial_rounds(fake) == rounds_before + 1
    assert [r.key for r in after] == [second.key, f"{box.identity}|Inbox||{late}"]
    refused = [r for r in fake.log if r.path.endswith("/messages/delta") and "$deltatoken" in r.query]
    assert refused, "the old token was tried first"


def test_an_expired_skip_token_mid_round_restarts_the_round(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    ids = [fake.deliver(USER, numbered(n)) for n in range(5)]
    box = mailbox(fake, token_endpoint, page_size=2)
    original = fake.handle

    def expire_after_first_page(method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
        answer = original(method, target, headers, body)
        if "/messages/delta" in target and len(fake.requests_to("/messages/delta")) == 1:
            fake.expire_delta_tokens()
        return answer

    fake.handle = expire_after_first_page  # type: ignore[method-assign]
    assert [r.uid for r in box.list_new()] == ids
    assert initial_rounds(fake) == 2


def test_delta_pages_are_followed_to_the_delta_link(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    ids = [fake.deliver(USER, numbered(n)) for n in range(7)]
    box = mailbox(fake, token_endpoint, page_size=3)
    assert [r.uid for r in box.list_new()] == ids  # oldest first, across pages
    pages = fake.requests_to("/messages/delta")
    assert len(pages) == 3 and all("odata.maxpagesize=3" in p.prefer for p in pages)
    assert [("$skiptoken" in p.query) for p in pages] == [False, True, True]
    assert pages[0].query["$select"] == "id,receivedDateTime"  # no subjects, no addresses


def test_a_second_listing_asks_only_for_changes(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    box = mailbox(fake, token_endpoint)
    fake.deliver(USER, numbered(1))
    box.list_new()
    box.list_new()
    last = fake.requests_to("/messages/delta")[-1]
    assert "$deltatoken" in last.query and initial_rounds(fake) == 1


def test_a_message_a_person_moved_away_drops_out_of_the_listing(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    box = mailbox(fake, token_endpoint)
    fake.deliver(USER, numbered(1))
    keep = fake.deliver(USER, numbered(2))
    [gone, _] = box.list_new()
    other = mailbox(fake, token_endpoint)  # "a person", in another client
    other.move(gone, OTHER)
    assert [r.uid for r in box.list_new()] == [keep]  # the @removed entry was applied
    box.move(gone, PROCESSED)  # the bot's own late move leaves it where the person put it
    assert fake.folder_contents(USER, OTHER) == [numbered(1)]
    assert fake.folder_contents(USER, PROCESSED) == []


def test_wait_for_new_costs_one_small_delta_request_per_look(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    box = mailbox(fake, token_endpoint, poll_interval=0.1)
    box.list_new()
    before = len(fake.log)
    assert box.wait_for_new(0.5) is False
    looks = fake.log[before:]
    assert 3 <= len(looks) <= 8
    assert all(r.path.endswith("/messages/delta") and "$deltatoken" in r.query for r in looks)


# -- immutable ids, folders, moves ----------------------------------------------------------


def test_ids_are_immutable_so_a_moved_message_keeps_its_ref(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    box = mailbox(fake, token_endpoint)
    fake.deliver(USER, numbered(1))
    [ref] = box.list_new()
    box.move(ref, QUARANTINE)
    assert box.fetch(ref) == numbered(1)  # the same id finds it in its new folder
    message_calls = [r for r in fake.log if "/messages" in r.path]
    assert message_calls and all('IdType="ImmutableId"' in r.prefer for r in message_calls)


def test_folders_are_made_under_the_inbox_once(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    box = mailbox(fake, token_endpoint)
    for folder in FOLDERS:
        box.ensure_folder(folder)
    box.ensure_folder(PROCESSED)
    made = fake.requests_to("POST")
    assert len(made) == 3 and all(r.path.endswith("/childFolders") for r in made)
    inbox = fake.requests_to("GET /v1.0/users/cscp@example.org/mailFolders/inbox")
    assert inbox, "the inbox is found by its well-known name"
    box_state = fake.mailboxes[USER]
    inbox_id = next(f.id for f in box_state.folders.values() if f.well_known == "inbox")
    assert sorted(f.name for f in box_state.folders.values() if f.parent == inbox_id) == sorted(FOLDERS)


@pytest.mark.parametrize("exists_status", [409, 400])
def test_a_folder_made_meanwhile_by_another_worker_is_used(
    fake: FakeGraph, token_endpoint: TokenEndpoint, exists_status: int
) -> None:
    fake.exists_status = exists_status  # Graph answers ErrorFolderExists as 400 or 409
    first = mailbox(fake, token_endpoint)
    second = mailbox(fake, token_endpoint)
    first.ensure_folder(OTHER)  # lists the inbox's (no) children and makes Other
    second.folder_status(())  # resolves the inbox: nothing cached about Other yet
    second._children.clear()
    second._children[second._path_id("Inbox")] = {}  # as if listed before Other existed
    second.ensure_folder(OTHER)  # POST -> ErrorFolderExists -> list again
    assert fake.requests_to("POST")[-1].path.endswith("/childFolders")
    inbox_id = second._path_id("Inbox")
    assert second._children[inbox_id]["other"] == first._children[inbox_id]["other"]


def test_child_folder_listings_are_paged(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    fake.folder_page_size = 2
    maker = mailbox(fake, token_endpoint)
    for name in ("A", "B", "C", "D", OTHER):
        maker.ensure_folder(name)
    fresh = mailbox(fake, token_endpoint)
    posts = len(fake.requests_to("POST"))
    fresh.ensure_folder(OTHER)  # found on the third page, not made again
    assert len(fake.requests_to("POST")) == posts


def test_append_creates_the_message_from_mime(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    box = mailbox(fake, token_endpoint)
    box.append(numbered(1))
    [created] = fake.requests_to("POST")
    assert created.content_type == "text/plain" and created.path.endswith("/messages")
    assert fake.folder_contents(USER, "Inbox", parent="msgfolderroot") == [numbered(1)]


def test_a_missing_message_is_a_mailbox_error(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    box = mailbox(fake, token_endpoint)
    fake.deliver(USER, numbered(1))
    [ref] = box.list_new()
    fake.mailboxes[USER].messages.clear()
    with pytest.raises(MailboxError, match="is not in the mailbox") as caught:
        box.fetch(ref)
    assert not isinstance(caught.value, MailboxConnectionError)
    box.move(ref, PROCESSED)  # gone: nothing to move, no error


def test_a_ref_of_another_mailbox_is_refused(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    from mailbot.mail.mailbox import MailboxRef

    box = mailbox(fake, token_endpoint)
    with pytest.raises(MailboxError, match="another mailbox"):
        box.fetch(MailboxRef("graph://someone%40example.org", "Inbox", "", "x"))


# -- throttling and server errors -------------------------------------------------------------


def test_throttled_listing_waits_as_told_then_succeeds(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    waits = Waits()
    box = mailbox(fake, token_endpoint, waits=waits)
    fake.deliver(USER, numbered(1))
    fake.fail_next(429, 2, match="/messages/delta", retry_after="3", code="ApplicationThrottled")
    assert len(box.list_new()) == 1
    assert waits == [3.0, 3.0]


def test_server_errors_past_the_attempts_are_a_connection_error(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    waits = Waits()
    box = mailbox(fake, token_endpoint, waits=waits, attempts=3)
    fake.fail_next(503, 3, match="/messages/delta")
    with pytest.raises(MailboxConnectionError, match="503"):
        box.list_new()
    assert waits == [0.25, 0.5]  # two waits between three tries (no jitter in the test)
    assert box.list_new() == []  # and all is well on the next cycle


def test_a_retry_after_beyond_patience_is_not_waited_out(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    waits = Waits()
    box = mailbox(fake, token_endpoint, waits=waits)
    fake.fail_next(429, 1, match="/messages/delta", retry_after="3600")
    with pytest.raises(MailboxConnectionError, match="throttled"):
        box.list_new()
    assert waits == []


def test_a_dropped_move_is_retried_and_a_failed_one_leaves_the_message(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    box = mailbox(fake, token_endpoint, attempts=2)
    fake.deliver(USER, numbered(1))
    [ref] = box.list_new()
    fake.fail_next(502, 2, match="/move")
    with pytest.raises(MailboxConnectionError):
        box.move(ref, PROCESSED)
    assert [r.key for r in box.list_new()] == [ref.key]  # still listed: the next cycle moves it
    box.move(ref, PROCESSED)
    assert box.list_new() == []


def test_links_to_another_host_are_not_followed(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    client = access_for(fake, token_endpoint).client()
    before = len(fake.log)
    with pytest.raises(GraphError, match="another host"):
        client.request("GET", "https://graph.example.net/v1.0/users/x/messages")
    with pytest.raises(GraphError, match="another host"):
        client.request("GET", fake.base_url + "evil.example/v1.0")  # a prefix is not the host
    assert len(fake.log) == before


# -- refused sign-in and permissions, in plain words -------------------------------------------


def test_a_mailbox_without_mail_readwrite_stops_with_the_permission_named(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    fake.granted = {"Mail.Send"}
    box = mailbox(fake, token_endpoint)
    with pytest.raises(MailboxAuthError) as caught:
        box.list_new()
    text = str(caught.value)
    assert "403 ErrorAccessDenied" in text and "Mail.ReadWrite" in text and USER in text
    assert "RBAC for Applications" in text


def test_read_only_access_fails_at_the_move_naming_mail_readwrite(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    fake.granted = {"Mail.Read"}
    box = mailbox(fake, token_endpoint)
    fake.deliver(USER, numbered(1))
    [ref] = box.list_new()
    with pytest.raises(MailboxAuthError, match="Mail.ReadWrite"):
        box.move(ref, PROCESSED)


def test_a_refused_token_is_replaced_once(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    box = mailbox(fake, token_endpoint)
    box.list_new()
    fake.rejected_tokens.update(token_endpoint.issued)  # revoked early
    issued = len(token_endpoint.issued)
    box.list_new()
    assert len(token_endpoint.issued) == issued + 1


def test_a_token_graph_never_accepts_is_a_401_auth_error(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    fake.accept_tokens = False
    box = mailbox(fake, token_endpoint)
    with pytest.raises(MailboxAuthError, match="401 InvalidAuthenticationToken") as caught:
        box.list_new()
    assert "m365.client_id" in str(caught.value) and "Mail.ReadWrite" in str(caught.value)


def test_a_sign_in_refusal_is_an_auth_error_without_the_secret(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.refuse = True
    try:
        box = mailbox(fake, token_endpoint)
        with pytest.raises(MailboxAuthError, match="invalid_client") as caught:
            box.list_new()
    finally:
        token_endpoint.refuse = False
    assert "s3cret" not in str(caught.value)
    assert fake.log == []  # Graph was never called without a token


def test_a_sender_without_mail_send_stays_queued_with_the_permission_named(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    fake.granted = {"Mail.ReadWrite"}
    sender = GraphSender(access_for(fake, token_endpoint).client(), USER)
    with pytest.raises(GraphSendAuthError) as caught:
        sender.send(reply())
    assert isinstance(caught.value, TemporarySendError)  # the drainer keeps it queued
    assert not isinstance(caught.value, PermanentSendError)
    assert "Mail.Send" in str(caught.value) and "403" in str(caught.value)


# -- the sender ------------------------------------------------------------------------------


def reply(**extra: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = USER
    message["To"] = "referrer@example.net"
    message["Subject"] = "[COC-2026-0001] Referral received"
    message["Message-ID"] = "<reply-1@mailbot.example.org>"
    message["In-Reply-To"] = "<DB9PR09MB1234567890ABCDEF@DB9PR09MB1234567.eurprd09.prod.outlook.com>"
    for name, value in extra.items():
        message[name] = value
    message.set_content("Thank you.\n")
    return message


def test_send_posts_base64_mime_with_crlf_and_keeps_a_sent_items_copy(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender = GraphSender(access_for(fake, token_endpoint).client(), USER)
    sender.send(reply())
    [call] = fake.requests_to("sendMail")
    assert call.content_type == "text/plain"
    [raw] = fake.sent
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    got = email.message_from_bytes(raw, policy=email.policy.default)
    assert got["Message-ID"] == "<reply-1@mailbot.example.org>"
    # Graph's MIME sendMail has no saveToSentItems: the copy is there (documented behaviour)
    assert fake.folder_contents(USER, "Sent Items", parent="msgfolderroot") == [raw]


def test_bcc_is_never_sent(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    sender = GraphSender(access_for(fake, token_endpoint).client(), USER)
    sender.send(reply(Bcc="hidden@example.net"))
    [raw] = fake.sent
    assert b"hidden@example.net" not in raw


def test_a_message_without_recipients_or_too_big_is_permanent_and_not_posted(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender = GraphSender(access_for(fake, token_endpoint).client(), USER)
    nobody = reply()
    del nobody["To"]
    with pytest.raises(PermanentSendError, match="no To or Cc"):
        sender.send(nobody)
    big = reply()
    big.add_attachment(os.urandom(3_200_000), maintype="application", subtype="pdf", filename="pack.pdf")
    with pytest.raises(PermanentSendError, match="4 MB"):
        sender.send(big)
    assert fake.requests_to("sendMail") == []


def test_a_lost_connection_during_send_is_not_retried_blindly(
    token_endpoint: TokenEndpoint, test_ca: TestCA
) -> None:
    """No answer to a sendMail may mean it went: report it, let the drainer decide."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[int] = []

    def drop_connections() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=drop_connections, daemon=True).start()
    access = GraphAccess(
        tenant=token_endpoint.tenant,
        client_id="client-id-1",
        credential="s3cret",
        graph_url=f"https://127.0.0.1:{listener.getsockname()[1]}/v1.0",
        authority_url=token_endpoint.base_url,
        ca_file=str(test_ca.ca_file),
    )
    sender = GraphSender(access.client(backoff=Backoff(attempts=4), sleep=Waits()), USER)
    try:
        with pytest.raises(TemporarySendError):
            sender.send(reply())
    finally:
        listener.close()
    assert len(accepted) == 1


# -- URLs, settings, wiring ---------------------------------------------------------------------


def test_graph_urls_parse_with_or_without_percent_encoding() -> None:
    assert parse_graph_url("graph://cscp%40example.org/Inbox", "mailbox.url") == (USER, "Inbox")
    assert parse_graph_url("graph://cscp@example.org/Inbox/Referrals", "mailbox.url") == (
        USER,
        "Inbox/Referrals",
    )
    assert parse_graph_url("graph://cscp%40example.org", "outbound.url") == (USER, "")
    guid = "0f0e0d0c-0b0a-0908-0706-050403020100"
    assert parse_graph_url(f"graph://{guid}/Inbox", "mailbox.url") == (guid, "Inbox")
    for bad in (
        "graph:///Inbox",
        "graph://cscp/Inbox",
        "graph://cscp%40example.org/Inbox?x=1",
        "graph://u:pw@example.org/Inbox",
    ):
        with pytest.raises(ConfigError):
            parse_graph_url(bad, "mailbox.url")


def test_open_mailbox_and_sender_for_graph(
    fake: FakeGraph, token_endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    access = access_for(fake, token_endpoint)
    box = open_mailbox("graph://cscp%40example.org/Inbox", password=None, base_dir=tmp_path, graph=access)
    assert isinstance(box, GraphMailbox) and box.identity == "graph://cscp%40example.org"
    fake.deliver(USER, numbered(1))
    assert len(box.list_new()) == 1
    assert isinstance(box.store, FileDeltaStore) and box.store.path == tmp_path / "var" / "graph-delta.json"
    assert box.store.path.exists()
    sender = open_sender("graph://cscp%40example.org", password=None, base_dir=tmp_path, graph=access)
    assert isinstance(sender, GraphSender)
    with pytest.raises(ConfigError, match="m365.tenant_id"):
        open_mailbox("graph://cscp%40example.org/Inbox", password=None, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="no folder"):
        open_sender("graph://cscp%40example.org/Inbox", password=None, base_dir=tmp_path, graph=access)
    box.close()
    sender.close()


def test_settings_name_the_graph_and_sign_in_hosts(tmp_path: Path) -> None:
    secret = {"MAILBOT_M365_TENANT_ID": "t", "MAILBOT_M365_CLIENT_ID": "c", "MAILBOT_M365_CLIENT_SECRET": "s"}
    default = graph_access_from_settings(load_settings(env=secret, base_dir=tmp_path))
    assert default is not None
    assert (default.graph_url, default.authority_url) == (
        "https://graph.microsoft.com/v1.0",
        "https://login.microsoftonline.com",
    )
    us = graph_access_from_settings(
        load_settings(
            env={
                **secret,
                "MAILBOT_M365_GRAPH_URL": "https://graph.microsoft.us/v1.0/",
                "MAILBOT_M365_AUTHORITY_URL": "https://login.microsoftonline.us",
            },
            base_dir=tmp_path,
        )
    )
    assert us is not None and us.graph_url == "https://graph.microsoft.us/v1.0"
    assert graph_scope(us.graph_url) == "https://graph.microsoft.us/.default"
    assert graph_scope("https://graph.microsoft.com/v1.0") == "https://graph.microsoft.com/.default"
    assert graph_access_from_settings(load_settings(env={}, base_dir=tmp_path)) is None
    with pytest.raises(ConfigError, match="MAILBOT_M365_GRAPH_URL"):
        graph_access_from_settings(
            load_settings(
                env={**secret, "MAILBOT_M365_GRAPH_URL": "http://graph.example.org/v1.0"}, base_dir=tmp_path
            )
        )
    assert check_base_url("http://127.0.0.1:8080/v1.0", "x") == "http://127.0.0.1:8080/v1.0"


def test_the_token_is_asked_for_the_graph_host(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    token_endpoint.requests.clear()
    mailbox(fake, token_endpoint).list_new()
    [form] = token_endpoint.requests
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == graph_scope(fake.base_url)


# -- delta stores ---------------------------------------------------------------------------------


def test_delta_stores_keep_text_under_short_keys(tmp_path: Path) -> None:
    key = delta_key("graph://" + "x" * 300 + "%40example.org", "Inbox/" + "y" * 200)
    assert len(key) <= 64  # poll_state.name is String(64)
    for store in (MemoryDeltaStore(), FileDeltaStore(tmp_path / "d.json")):
        assert store.get(key) is None
        store.put(key, "one")
        store.put("other", "two")
        assert (store.get(key), store.get("other")) == ("one", "two")
    (tmp_path / "bad.json").write_text("{not json")
    assert FileDeltaStore(tmp_path / "bad.json").get(key) is None
    assert DeltaState.loads("{broken").link is None


def test_the_database_delta_store(database_url: str) -> None:
    from mailbot.store.db import Database
    from mailbot.store.poll_delta import DbDeltaStore

    db = Database(database_url)
    db.migrate()
    try:
        store, again = DbDeltaStore(db), DbDeltaStore(db)
        key = delta_key("graph://cscp%40example.org", "Inbox")
        assert store.get(key) is None
        store.put(key, DeltaState("https://graph.microsoft.com/v1.0/x?$deltatoken=1").dumps())
        again.put(key, DeltaState("https://graph.microsoft.com/v1.0/x?$deltatoken=2").dumps())
        assert DeltaState.loads(store.get(key)).link.endswith("=2")  # type: ignore[union-attr]
    finally:
        db.dispose()


def test_state_saved_for_another_graph_host_is_not_followed(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    store = MemoryDeltaStore()
    box = mailbox(fake, token_endpoint, store)
    store.put(box._key, DeltaState("https://graph.example.net/v1.0/x?$deltatoken=1").dumps())
    fake.deliver(USER, numbered(1))
    assert len(box.list_new()) == 1
    assert initial_rounds(fake) == 1


# -- mailbot check ----------------------------------------------------------------------------------


def test_check_reports_the_mailbox_and_changes_nothing(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    store = MemoryDeltaStore()
    box = mailbox(fake, token_endpoint, store)
    fake.deliver(USER, numbered(1))
    ok, line = graph_check_mailbox(box)
    assert ok, line
    assert line == (
        "graph://cscp%40example.org/Inbox: reachable, 1 message(s) waiting; "
        "will create Processed, Quarantine, Other at the first poll"
    )
    assert store.values == {} and fake.requests_to("POST") == []
    assert fake.requests_to("/messages/delta") == []
    for folder in FOLDERS:
        box.ensure_folder(folder)
    assert graph_check_mailbox(box)[1].endswith("folders Processed, Quarantine, Other present")


def test_check_fails_in_plain_words_without_the_permission(
    fake: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    fake.granted = {"Mail.Send"}
    ok, line = graph_check_mailbox(mailbox(fake, token_endpoint))
    assert not ok and "Mail.ReadWrite" in line and "403" in line


def test_check_sender_signs_in_and_sends_nothing(fake: FakeGraph, token_endpoint: TokenEndpoint) -> None:
    sender = GraphSender(access_for(fake, token_endpoint).client(), USER)
    ok, line = graph_check_sender(sender)
    assert ok and "signed in" in line  # the stand-in's tokens are not JWTs: no roles to read
    sender.verify()
    assert fake.sent == [] and fake.log == []
    token_endpoint.refuse = True
    try:
        ok, line = graph_check_sender(GraphSender(access_for(fake, token_endpoint).client(), USER))
    finally:
        token_endpoint.refuse = False
    assert not ok and "invalid_client" in line


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.c2ln"


def test_roles_are_read_from_the_token_where_entra_put_them() -> None:
    assert jwt_roles(jwt({"roles": ["Mail.ReadWrite", "Mail.Send"]})) == {"Mail.ReadWrite", "Mail.Send"}
    assert jwt_roles(jwt({"aud": "https://graph.microsoft.com"})) is None  # RBAC for Applications
    assert jwt_roles("not-a-jwt") is None

    class Tokens:
        def __init__(self, token: str) -> None:
            self.value = token

        def token(self) -> str:
            return self.value

        def invalidate(self) -> None:
            return None

    from mailbot.mail.graph_client import GraphClient

    only_read = GraphClient("https://graph.microsoft.com/v1.0", Tokens(jwt({"roles": ["Mail.ReadWrite"]})))
    ok, line = graph_check_sender(GraphSender(only_read, USER))
    assert not ok and "Mail.Send" in line
    with pytest.raises(GraphSendAuthError, match="Mail.Send"):
        GraphSender(only_read, USER).verify()


# -- a real bot on Graph: no duplicates across a failed move and an expired token ----------------------


def test_the_bot_answers_each_referral_once_across_a_failed_move_and_a_resync(
    fake: FakeGraph, token_endpoint: TokenEndpoint, tmp_path: Path, sqlite_url: str, clock: Any
) -> None:
    from mailbot.app import build_app
    from mailbot.intake.poller import Poller
    from mailbot.store.poll_delta import DbDeltaStore

    settings = load_settings(env=make_env(tmp_path, sqlite_url, MAILBOT_FROM=USER), base_dir=tmp_path)
    access = access_for(fake, token_endpoint)
    quick = Backoff(attempts=2, rand=lambda: 0.0)
    sender = GraphSender(access.client(backoff=quick, sleep=Waits()), USER)
    app = build_app(settings, clock=clock, sender=sender)
    app.prepare()
    box = GraphMailbox(access.client(backoff=quick, sleep=Waits()), USER, "Inbox", store=DbDeltaStore(app.db))
    app._mailbox = box
    try:
        first = fake.deliver(USER, simple_referral(1))
        fake.deliver(USER, simple_referral(2))
        # Two tries per move, and the intake leaves a failed move to the next cycle: both fail.
        fake.fail_next(503, 2, match=f"/messages/{first}/move")
        with pytest.raises(MailboxConnectionError):
            Poller(app).cycle()  # committed, but the move failed: it stays in the inbox
        assert first in fake.inbox_ids(USER)
        fake.expire_delta_tokens()  # and Graph forgets the delta token meanwhile
        handled = Poller(app).cycle().handled
        assert [h.duplicate for h in handled] == [True, True]  # both stored in the first batch
        assert fake.inbox_ids(USER) == []
        app.drainer.drain()
        answered = [
            str(email.message_from_bytes(raw, policy=email.policy.default)["In-Reply-To"])
            for raw in fake.sent
        ]
        assert sorted(answered) == ["<msg-1@school.example.org>", "<msg-2@school.example.org>"]
        with app.db.session() as session:
            from sqlalchemy import func, select

            from mailbot.store.models import InboundMessage

            assert session.scalar(select(func.count()).select_from(InboundMessage)) == 2
    finally:
        app.close()
