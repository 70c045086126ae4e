"""Microsoft Graph's counterparts of the sender contract's relay-specific tests.

The mailbox and sender contract suites themselves (``test_mailbox_contract.py``,
``test_sender_contract.py``) run on Graph as one of their backends; what they cannot
share is how a relay fails. Here: throttling (429 with ``Retry-After``) and 5xx retried,
a refused message permanent, an unreachable Graph temporary, a refused app (401/403)
temporary so the reply stays queued until a person grants ``Mail.Send``.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from helpers.fake_graph import USER, FakeGraph, access_for
from helpers.servers import TestCA, TokenEndpoint, free_port

from mailbot.errors import PermanentSendError, TemporarySendError
from mailbot.mail.backoff import Backoff
from mailbot.mail.graph_client import GraphAccess
from mailbot.mail.graph_sender import GraphSender


def reply() -> EmailMessage:
    message = EmailMessage()
    message["From"] = USER
    message["To"] = "referrer@example.net"
    message["Subject"] = "[COC-2026-0001] Referral received"
    message["Message-ID"] = "<reply-1@mailbot.example.org>"
    message.set_content("Thank you.\n")
    return message


def quick_sender(
    fake: FakeGraph, endpoint: TokenEndpoint, attempts: int = 3
) -> tuple[GraphSender, list[float]]:
    waits: list[float] = []
    access = access_for(fake, endpoint)
    client = access.client(backoff=Backoff(attempts=attempts, rand=lambda: 0.0), sleep=waits.append)
    return GraphSender(client, USER), waits


def test_graph_throttling_is_retried_and_the_next_try_goes_through(
    fake_graph: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender, waits = quick_sender(fake_graph, token_endpoint)
    fake_graph.fail_next(429, 2, match="sendMail", retry_after="7")
    sender.send(reply())
    assert waits == [7.0, 7.0]  # Retry-After obeyed
    assert len(fake_graph.sent) == 1


def test_graph_throttling_past_the_attempts_is_temporary(
    fake_graph: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender, _ = quick_sender(fake_graph, token_endpoint)
    fake_graph.fail_next(429, 3, match="sendMail", retry_after="1")
    with pytest.raises(TemporarySendError) as caught:
        sender.send(reply())
    assert not isinstance(caught.value, PermanentSendError)
    assert "429" in str(caught.value)
    sender.send(reply())  # the retry the drainer would make
    assert len(fake_graph.sent) == 1


def test_graph_server_errors_are_retried_with_backoff(
    fake_graph: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender, waits = quick_sender(fake_graph, token_endpoint)
    fake_graph.fail_next(503, 1, match="sendMail")
    fake_graph.fail_next(500, 1, match="sendMail")
    sender.send(reply())
    assert waits == [0.25, 0.5]  # Backoff(base 0.5): half of 0.5, then of 1.0, without jitter
    assert len(fake_graph.sent) == 1


def test_graph_refusing_the_message_is_permanent(
    fake_graph: FakeGraph, token_endpoint: TokenEndpoint
) -> None:
    sender, _ = quick_sender(fake_graph, token_endpoint)
    fake_graph.fail_next(400, 1, match="sendMail", code="ErrorInvalidRecipients")
    with pytest.raises(PermanentSendError, match="400 ErrorInvalidRecipients"):
        sender.send(reply())
    assert fake_graph.sent == []


@pytest.mark.parametrize("status", [401, 403])
def test_graph_refusing_the_app_is_temporary(
    fake_graph: FakeGraph, token_endpoint: TokenEndpoint, status: int
) -> None:
    """A missing Mail.Send is the app's fault, not the reply's: it stays queued."""
    sender, _ = quick_sender(fake_graph, token_endpoint)
    fake_graph.fail_next(status, 2, match="sendMail", code="ErrorAccessDenied")
    with pytest.raises(TemporarySendError, match="Mail.Send") as caught:
        sender.send(reply())
    assert not isinstance(caught.value, PermanentSendError)
    assert fake_graph.sent == []


def test_an_unreachable_graph_is_temporary(token_endpoint: TokenEndpoint, test_ca: TestCA) -> None:
    access = GraphAccess(
        tenant=token_endpoint.tenant,
        client_id="client-id-1",
        credential="s3cret",
        graph_url=f"https://127.0.0.1:{free_port()}/v1.0",
        authority_url=token_endpoint.base_url,
        ca_file=str(test_ca.ca_file),
    )
    sender = GraphSender(access.client(), USER)
    with pytest.raises(TemporarySendError, match="refused"):
        sender.send(reply())
