"""What a test does when something it needs is not on this machine.

On a laptop it skips with the reason; under CI (``CI=true``), where `.ci/run` installs and
starts everything, it fails: a CI run must never go green by skipping what it should test.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing_service(reason: str) -> None:
    if in_ci():
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)
