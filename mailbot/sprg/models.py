"""This feature's tables (same ``Base`` as ``mailbot.store.models``; own Alembic migration)."""

from __future__ import annotations
