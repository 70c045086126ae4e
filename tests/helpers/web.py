"""Fixtures for the workspace tests: a bot with seeded cases, and a signed-in team user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from helpers.workspace import seeded_app, sign_in, web_app
from mailbot.app import App
from mailbot.clock import FixedClock


@pytest.fixture
def seeded_bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = seeded_app(tmp_path, clock)
    yield app
    app.close()


@pytest.fixture
def team(seeded_bot: App) -> FlaskClient:
    client = web_app(seeded_bot).test_client()
    sign_in(client, "tess.team")
    return client
