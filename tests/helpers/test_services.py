"""The rule every server-backed test relies on: a missing service skips on a laptop and
fails under CI, so a CI run can never go green by skipping what it should test."""

from __future__ import annotations

import pytest

from helpers.services import in_ci, missing_service


def test_a_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="required under CI: Dovecot is not installed"):
        missing_service("Dovecot is not installed")


@pytest.mark.parametrize("value", ["", "false", "0"])
def test_a_missing_service_skips_with_its_reason_outside_ci(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception, match="Dovecot is not installed"):
        missing_service("Dovecot is not installed")


def test_ci_is_recognised_however_it_is_spelt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "TRUE")  # as some runners set it
    assert in_ci()
