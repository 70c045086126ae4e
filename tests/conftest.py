"""Shared fixtures: a configured bot in a temporary folder, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.bot import make_app, postgres_url

from mailbot.app import App
from mailbot.clock import FixedClock

pytest_plugins = ["helpers.servers", "helpers.web", "helpers.fake_graph"]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands run by tests install the bot's JSON log handler; put the root back after."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 10, 12, 9, 15, tzinfo=UTC))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    else:
        yield from postgres_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database of its own, dropped afterwards."""
    yield from postgres_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, clock: FixedClock) -> Iterator[App]:
    bot = make_app(tmp_path, sqlite_url, clock)
    yield bot
    bot.close()


@pytest.fixture
def any_app(tmp_path: Path, database_url: str, clock: FixedClock) -> Iterator[App]:
    """The same bot on SQLite and on PostgreSQL."""
    bot = make_app(tmp_path, database_url, clock)
    yield bot
    bot.close()
