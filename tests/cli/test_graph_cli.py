"""Microsoft Graph as mailbox AND sender, through the command line as an operator runs it.

``mailbot poll --once`` and ``mailbot check`` with ``graph://`` URLs and the ``m365.*``
settings only, against the local Graph stand-in (``helpers/fake_graph.py``) and the fake
Microsoft login (real MSAL, HTTPS with the tests' CA named by ``mailbox.ca_file``).
"""

from __future__ import annotations

import json
import random
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from helpers.bot import eml, make_env, prepare_state
from helpers.fake_graph import USER, FakeGraph
from helpers.outbound_mail import exchange_id, with_headers
from helpers.servers import TokenEndpoint
from sqlalchemy import select

from mailbot.cli.main import main
from mailbot.settings import load_settings
from mailbot.store.db import Database
from mailbot.store.models import Outbox, PollState

MAILBOX = "graph://cscp%40example.org/Inbox"
SENDER = "graph://cscp%40example.org"


@pytest.fixture
def workdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_graph: FakeGraph, token_endpoint: TokenEndpoint
) -> Path:
    monkeypatch.chdir(tmp_path)
    env = make_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}",
        MAILBOT_MAILBOX_URL=MAILBOX,
        MAILBOT_OUTBOUND_URL=SENDER,
        MAILBOT_FROM=USER,
        MAILBOT_M365_TENANT_ID=token_endpoint.tenant,
        MAILBOT_M365_CLIENT_ID="client-id-1",
        MAILBOT_M365_CLIENT_SECRET="s3cret",
        MAILBOT_M365_GRAPH_URL=fake_graph.base_url,
        MAILBOT_M365_AUTHORITY_URL=token_endpoint.base_url,
        MAILBOT_MAILBOX_CA_FILE=str(token_endpoint.ca_file),
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    prepare_state()  # what init makes, without init's folder creation on the mailbox
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def outbox_rows(workdir: Path) -> list[Outbox]:
    settings = load_settings(env=None, base_dir=workdir)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            return list(session.scalars(select(Outbox).order_by(Outbox.created_at)))
    finally:
        db.dispose()


def test_poll_once_reads_files_and_answers_through_graph(
    workdir: Path, capsys: pytest.CaptureFixture[str], fake_graph: FakeGraph
) -> None:
    exchange = exchange_id(random.Random(110), 110)
    complete = with_headers(eml("mail-01-referral-complete"), Message_ID=exchange)
    fake_graph.deliver(USER, complete)
    fake_graph.deliver(USER, eml("mail-02-referral-incomplete"))
    fake_graph.deliver(USER, eml("mail-12-out-of-office"))
    fake_graph.deliver(USER, eml("mail-19-mailing-list"))
    assert run(capsys, "init")[0] == 0

    code, out, _ = run(capsys, "poll", "--once")
    assert code == 0 and "handled 4 message(s)" in out, out
    assert fake_graph.inbox_ids(USER) == []
    assert len(fake_graph.folder_contents(USER, "Processed")) == 4
    assert fake_graph.folder_contents(USER, "Processed")[0] == complete  # the MIME, unchanged

    # Two acknowledgements went out through sendMail, as MIME: the Message-ID the
    # outbox fixed is the one sent, and the Exchange-sized In-Reply-To is a msg-id.
    rows = {row.message_id: row for row in outbox_rows(workdir)}
    sent = [BytesParser(policy=policy.default).parsebytes(raw) for raw in fake_graph.sent]
    replies = [m for m in sent if m["In-Reply-To"]]
    assert len(replies) == 2
    assert {str(m["Message-ID"]) for m in sent} <= set(rows)
    assert all(rows[str(m["Message-ID"])].state == "sent" for m in sent)
    first = next(m for m in replies if str(m["In-Reply-To"]) == exchange)
    assert str(first["References"]) == exchange
    raw = next(r for r in fake_graph.sent if exchange.encode() in r)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nIn-Reply-To: " + exchange.encode() + b"\r\n" in head
    assert b"=?" not in head and b"\n" not in head.replace(b"\r\n", b"")  # CRLF throughout

    # The delta state is in the database: a second run (a new process) finds nothing new.
    settings = load_settings(env=None, base_dir=workdir)
    db = Database(settings.database_url)
    with db.session() as session:
        names = [row.name for row in session.scalars(select(PollState))]
    db.dispose()
    assert any(name.startswith("graph") for name in names), names
    assert not (workdir / "var" / "graph-delta.json").exists()
    before = len(fake_graph.sent)
    code, out, _ = run(capsys, "poll", "--once")
    assert code == 0 and "handled 0 message(s)" in out, out
    assert len(fake_graph.sent) == before

    fake_graph.deliver(USER, eml("mail-03-followup-corrected-form"))
    code, out, _ = run(capsys, "poll", "--once")
    assert code == 0 and "handled 1 message(s)" in out, out
    assert len(fake_graph.sent) == before + 1


def test_a_reply_refused_for_want_of_mail_send_stays_queued(
    workdir: Path, capsys: pytest.CaptureFixture[str], fake_graph: FakeGraph
) -> None:
    fake_graph.granted = {"Mail.ReadWrite"}
    fake_graph.deliver(USER, eml("mail-01-referral-complete"))
    code, out, _ = run(capsys, "poll", "--once")
    assert code == 0 and "handled 1 message(s)" in out
    assert fake_graph.sent == []
    [row] = outbox_rows(workdir)
    assert row.state == "queued" and "Mail.Send" in (row.last_error or "")
    code, out, _ = run(capsys, "status", "--json")
    assert json.loads(out)["outbox_backlog"] == 1 and json.loads(out)["outbox_failed"] == 0


def test_check_on_graph_signs_in_and_changes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str], fake_graph: FakeGraph
) -> None:
    fake_graph.deliver(USER, eml("mail-01-referral-complete"))
    code, out, _ = run(capsys, "check")
    assert code == 0, out
    assert (
        f"mailbox: ok - {SENDER}/Inbox: reachable, 1 message(s) waiting; will create "
        "Processed, Quarantine, Other at the first poll" in out
    )
    assert f"outbound: ok - {SENDER}: signed in" in out
    assert "sender_auth: ok - authserv-id" in out
    assert fake_graph.sent == [] and fake_graph.folder_contents(USER, "Processed") == []
    assert not fake_graph.requests_to("/delta") and not fake_graph.requests_to("POST ")
    assert fake_graph.inbox_ids(USER) != []

    fake_graph.granted = set()
    code, out, _ = run(capsys, "check", "--json")
    results = {r["part"]: r for r in json.loads(out)}
    assert code == 1 and not results["mailbox"]["ok"]
    assert "lacks the application permission Mail.ReadWrite" in results["mailbox"]["detail"]
    assert results["database"]["ok"] and results["sender_auth"]["warning"] is False


def test_check_warns_when_no_sender_check_is_read(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILBOT_TRUSTED_AUTHSERV_ID")
    code, out, _ = run(capsys, "check")
    assert code == 0, out  # a warning never fails the check
    assert "sender_auth: warning - mail.sender_auth is none" in out
    monkeypatch.setenv("MAILBOT_SENDER_AUTH", "exchange-online")
    code, out, _ = run(capsys, "check")  # the fake login's tenant is not a GUID
    assert code == 0 and "sender_auth: warning - mail.sender_auth_tenant_id is not set" in out
    monkeypatch.setenv("MAILBOT_SENDER_AUTH_TENANT_ID", "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")
    code, out, _ = run(capsys, "check")
    assert code == 0 and "sender_auth: ok - exchange-online" in out
