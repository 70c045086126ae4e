"""Fixtures for the workspace tests: a bot with seeded cases, and a signed-in team user.

Tests marked ``both_databases`` get the seeded bot on SQLite and on PostgreSQL (a fresh
database each); the rest stay on SQLite, so the suite's time does not double."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from helpers.bot import postgres_url
from helpers.workspace import seeded_app, sign_in, web_app
from mailbot.app import App
from mailbot.clock import FixedClock


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "workspace_database" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_databases"
    ):
        metafunc.parametrize("workspace_database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def workspace_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The seeded bot's database URL: SQLite unless the test is marked ``both_databases``."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    else:
        yield from postgres_url()


@pytest.fixture
def seeded_bot(tmp_path: Path, clock: FixedClock, workspace_database: str) -> Iterator[App]:
    app = seeded_app(tmp_path, clock, workspace_database)
    yield app
    app.close()


@pytest.fixture
def team(seeded_bot: App) -> FlaskClient:
    client = web_app(seeded_bot).test_client()
    sign_in(client, "tess.team")
    return client
