"""The mailbox and sender contract suites, run unchanged against Microsoft Graph.

Every test of ``tests/test_mailbox_contract.py`` and ``tests/test_sender_contract.py``
that takes the ``backend`` fixture is imported here as it is (new contract tests join
automatically) and collected under a ``test_graph_mailbox__`` / ``test_graph_sender__``
name. This module's own ``backend`` fixture overrides the suites' fixtures, so each test
runs once, on a Graph backend against the local stand-in (``helpers/fake_graph.py``),
signing in through real MSAL at the fake Microsoft login (``token_endpoint``).

The contracts' SMTP-specific tests (4xx, 5xx, unreachable relay) have Graph counterparts
at the end of this file.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
import test_mailbox_contract as mailbox_contract
import test_sender_contract as sender_contract
from _servers import TestCA, TokenEndpoint, free_port
from helpers.fake_graph import (
    USER,
    FakeGraph,
    access_for,
    graph_mailbox_parts,
    graph_sender_parts,
    serve_fake_graph,
)

from mailbot.errors import PermanentSendError, TemporarySendError
from mailbot.mail.backoff import Backoff
from mailbot.mail.graph_client import GraphAccess
from mailbot.mail.graph_sender import GraphSender


def _contract_tests(module: Any, prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}{name.removeprefix('test_')}": test
        for name, test in vars(module).items()
        if name.startswith("test_") and callable(test) and "backend" in inspect.signature(test).parameters
    }


MAILBOX_TESTS = _contract_tests(mailbox_contract, "test_graph_mailbox__")
SENDER_TESTS = _contract_tests(sender_contract, "test_graph_sender__")
globals().update(MAILBOX_TESTS)
globals().update(SENDER_TESTS)


@pytest.fixture
def fake_graph(test_ca: TestCA, token_endpoint: TokenEndpoint) -> Iterator[FakeGraph]:
    yield from serve_fake_graph(test_ca, token_endpoint)


@pytest.fixture
def backend(request: pytest.FixtureRequest, fake_graph: FakeGraph,
            token_endpoint: TokenEndpoint) -> Iterator[Any]:
    """A Graph ``Backend`` for the mailbox contract, a ``SenderBackend`` for the sender's."""
    if request.function.__module__ == sender_contract.__name__:
        sender, delivered = graph_sender_parts(fake_graph, token_endpoint)
        yield sender_contract.SenderBackend(sender, delivered)
        sender.close()
        return
    mailbox, open_another, folder_contents = graph_mailbox_parts(fake_graph, token_endpoint)
    opened: list[Any] = []

    def tracked_open() -> Any:
        box = open_another()
        opened.append(box)
        return box

    yield mailbox_contract.Backend(mailbox, tracked_open, folder_contents)
    for box in [mailbox, *opened]:
        box.close()


def test_every_backend_contract_test_runs_here() -> None:
    assert len(MAILBOX_TESTS) >= 15 and len(SENDER_TESTS) >= 3


# -- the sender contract's relay-specific checks, for Graph ---------------------------------


def quick_sender(fake: FakeGraph, endpoint: TokenEndpoint,
                 attempts: int = 3) -> tuple[GraphSender, list[float]]:
    waits: list[float] = []
    access = access_for(fake, endpoint)
    client = access.client(backoff=Backoff(attempts=attempts, rand=lambda: 0.0), sleep=waits.append)
    return GraphSender(client, USER), waits


def test_graph_throttling_is_retried_and_the_next_try_goes_through(
    fake_graph: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender, waits = quick_sender(fake_graph, token_endpoint)
    fake_graph.fail_next(429, 2, match="sendMail", retry_after="7")
    sender.send(sender_contract.reply())
    assert waits == [7.0, 7.0]  # Retry-After obeyed
    assert len(fake_graph.sent) == 1


def test_graph_throttling_past_the_attempts_is_temporary(
    fake_graph: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender, _ = quick_sender(fake_graph, token_endpoint)
    fake_graph.fail_next(429, 3, match="sendMail", retry_after="1")
    with pytest.raises(TemporarySendError) as caught:
        sender.send(sender_contract.reply())
    assert not isinstance(caught.value, PermanentSendError)
    assert "429" in str(caught.value)
    sender.send(sender_contract.reply())  # the retry the drainer would make
    assert len(fake_graph.sent) == 1


def test_graph_server_errors_are_retried_with_backoff(
    fake_graph: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender, waits = quick_sender(fake_graph, token_endpoint)
    fake_graph.fail_next(503, 1, match="sendMail")
    fake_graph.fail_next(500, 1, match="sendMail")
    sender.send(sender_contract.reply())
    assert waits == [0.25, 0.5]  # Backoff(base 0.5): half of 0.5, then of 1.0, without jitter
    assert len(fake_graph.sent) == 1


def test_graph_refusing_the_message_is_permanent(
    fake_graph: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender, _ = quick_sender(fake_graph, token_endpoint)
    fake_graph.fail_next(400, 1, match="sendMail", code="ErrorInvalidRecipients")
    with pytest.raises(PermanentSendError, match="400 ErrorInvalidRecipients"):
        sender.send(sender_contract.reply())
    assert fake_graph.sent == []


def test_an_unreachable_graph_is_temporary(token_endpoint: TokenEndpoint, test_ca: TestCA) -> None:
    access = GraphAccess(tenant=token_endpoint.tenant, client_id="client-id-1", credential="s3cret",
                         graph_url=f"https://127.0.0.1:{free_port()}/v1.0",
                         authority_url=token_endpoint.base_url, ca_file=str(test_ca.ca_file))
    sender = GraphSender(access.client(), USER)
    with pytest.raises(TemporarySendError, match="refused"):
        sender.send(sender_contract.reply())
