"""Microsoft 365 tokens: the provider's caching, MSAL against a local stand-in for
login.microsoftonline.com (HTTPS, test CA), and the token used for a real XOAUTH2 login
at the private Dovecot (which checks it by introspection at the same stand-in)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.servers import DovecotServer, TokenEndpoint, free_port

from mailbot.mail.imap import ImapMailbox, ImapSettings
from mailbot.mail.oauth import (
    OUTLOOK_SCOPE,
    AccessToken,
    MsalClientCredentials,
    TokenError,
    TokenProvider,
    microsoft_token_provider,
    xoauth2_string,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_fetch(lifetime: float = 3600) -> tuple[list[bool], object]:
    calls: list[bool] = []

    def fetch(skip_cache: bool) -> AccessToken:
        calls.append(skip_cache)
        return AccessToken(f"token-{len(calls)}", lifetime)

    return calls, fetch


# -- the provider ----------------------------------------------------------------------


def test_the_token_is_cached_until_shortly_before_expiry() -> None:
    clock = Clock()
    calls, fetch = counting_fetch(3600)
    provider = TokenProvider(fetch, margin=300, clock=clock)  # type: ignore[arg-type]
    assert provider.token() == "token-1"
    clock.now += 3299
    assert provider.token() == "token-1"  # 301 s left: still good
    clock.now += 2
    assert provider.token() == "token-2"  # 299 s left: fetched ahead of expiry
    assert calls == [False, False]


def test_a_short_lived_token_is_refreshed_at_half_life_not_on_every_call() -> None:
    clock = Clock()
    calls, fetch = counting_fetch(120)  # shorter than the 300 s margin
    provider = TokenProvider(fetch, margin=300, clock=clock)  # type: ignore[arg-type]
    provider.token()
    provider.token()
    clock.now += 59
    provider.token()
    assert len(calls) == 1
    clock.now += 2
    provider.token()
    assert len(calls) == 2


def test_invalidate_fetches_anew_past_any_cache() -> None:
    calls, fetch = counting_fetch()
    provider = TokenProvider(fetch, clock=Clock())  # type: ignore[arg-type]
    provider.token()
    provider.invalidate()
    assert provider.token() == "token-2"
    assert calls == [False, True]


def test_xoauth2_string() -> None:
    raw = xoauth2_string("cscp@example.org", "abc")
    assert raw == "user=cscp@example.org\x01auth=Bearer abc\x01\x01"
    assert base64.b64encode(raw.encode()).startswith(b"dXNlcj1jc2Nw")


# -- MSAL against the stand-in -------------------------------------------------------


@pytest.fixture
def endpoint(token_endpoint: TokenEndpoint) -> Iterator[TokenEndpoint]:
    token_endpoint.requests.clear()
    token_endpoint.refuse = False
    yield token_endpoint
    token_endpoint.refuse = False


def http_for(endpoint: TokenEndpoint) -> Any:
    """Trust the test CA. ``trust_env`` off: REQUESTS_CA_BUNDLE would override ``verify``."""
    import requests  # installed with msal

    session = requests.Session()
    session.verify = str(endpoint.ca_file)
    session.trust_env = False
    return session


def msal_fetch(endpoint: TokenEndpoint, secret: str = "s3cret") -> MsalClientCredentials:
    return MsalClientCredentials(
        endpoint.tenant,
        "client-id-1",
        secret,
        authority_host=endpoint.base_url,
        http_client=http_for(endpoint),
    )


def test_msal_asks_for_the_outlook_scope_with_client_credentials(endpoint: TokenEndpoint) -> None:
    token = msal_fetch(endpoint)(False)
    assert token.value in endpoint.issued and token.expires_in == 3600
    [form] = endpoint.requests
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == OUTLOOK_SCOPE
    assert (form["client_id"], form["client_secret"]) == ("client-id-1", "s3cret")


def test_msal_serves_its_cache_unless_told_to_skip_it(endpoint: TokenEndpoint) -> None:
    fetch = msal_fetch(endpoint)
    first = fetch(False)
    assert fetch(False).value == first.value and len(endpoint.requests) == 1
    fresh = fetch(True)
    assert fresh.value != first.value and len(endpoint.requests) == 2


def test_a_refused_client_is_a_permanent_token_error(endpoint: TokenEndpoint) -> None:
    endpoint.refuse = True
    with pytest.raises(TokenError, match="invalid_client") as caught:
        msal_fetch(endpoint)(False)
    assert caught.value.temporary is False
    assert "s3cret" not in str(caught.value)


def test_an_unreachable_endpoint_is_a_temporary_token_error(endpoint: TokenEndpoint) -> None:
    dead = TokenEndpoint(f"https://127.0.0.1:{free_port()}", "t", endpoint.ca_file)
    with pytest.raises(TokenError) as caught:
        msal_fetch(dead)(False)
    assert caught.value.temporary is True


def test_msal_token_logs_in_to_dovecot_with_xoauth2(
    endpoint: TokenEndpoint, dovecot_account: DovecotServer
) -> None:
    provider = microsoft_token_provider(
        endpoint.tenant,
        "client-id-1",
        "s3cret",
        authority_host=endpoint.base_url,
        http_client=http_for(endpoint),
    )
    settings = ImapSettings(
        dovecot_account.host, dovecot_account.port, dovecot_account.user, "plain", token_provider=provider
    )
    box = ImapMailbox(settings)
    box.append(b"Subject: t\r\n\r\nbody\r\n")
    assert len(box.list_new()) == 1
    box.close()
    assert len(endpoint.requests) == 1  # one token served the whole session
