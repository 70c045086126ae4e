"""Shared fixtures: a configured bot in a temporary folder, on SQLite or PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.bot import make_app
from helpers.services import missing_service

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


def _postgres_url() -> Iterator[str]:
    try:
        import psycopg
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                                autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not usable here
        missing_service(f"PostgreSQL at 127.0.0.1:5432 is not reachable ({type(exc).__name__})")
        return
    name = "mailbot_t_" + secrets.token_hex(4)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    else:
        yield from _postgres_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database of its own, dropped afterwards."""
    yield from _postgres_url()


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


