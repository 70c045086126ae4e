"""After signing in, ``next`` leads only to a page of this site.

A browser reads a backslash as a slash, so ``/\\evil.example`` was another site, and it
was followed before this change; tabs and newlines are dropped by browsers too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.signin_support import PASSWORD, client_from, csrf_of, signin_app, web_of

from mailbot.app import App
from mailbot.clock import FixedClock


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = signin_app(tmp_path, clock, MAILBOT_WEB_TOTP="off")
    yield app
    app.close()


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/\\evil.example/x", "/"),
        ("/\t/evil.example", "/"),
        ("/queue\r\nSet-Cookie: x=1", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/queue?status=ready", "/queue?status=ready"),
    ],
)
def test_next_stays_on_this_site(bot: App, target: str, expected: str) -> None:
    client = client_from(web_of(bot))
    page = client.get("/sign-in").get_data(as_text=True)
    response = client.post(
        "/sign-in",
        data={"name": "tess.team", "password": PASSWORD, "next": target, "csrf_token": csrf_of(page)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected
