"""The SQL an engine sends, recorded for tests that check how many statements and in what
order; without pytest, so that any test module may use it. The listeners are always
removed, even when the block fails, so a recorder never outlives its test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent through ``engine`` inside the block, in the order sent."""
    seen: list[str] = []

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)


@contextmanager
def transactions(engine: Engine) -> Iterator[list[list[str]]]:
    """The statements sent inside the block, one list per transaction: a connection's
    statements until its commit or rollback. Several connections (another thread's) may
    be open at once; their statements are kept apart, so a lock order can be read from
    one transaction's list."""
    done: list[list[str]] = []
    current: dict[int, list[str]] = {}
    lock = threading.Lock()

    def on_statement(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        with lock:
            if id(conn) not in current:
                current[id(conn)] = []
                done.append(current[id(conn)])
            current[id(conn)].append(statement)

    def on_end(conn: Any) -> None:
        with lock:
            current.pop(id(conn), None)

    listeners = [("before_cursor_execute", on_statement), ("commit", on_end), ("rollback", on_end)]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield done
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
