"""The case statuses: one table of codes, words and rules, read by every view."""

from __future__ import annotations

import pytest

from mailbot.cases.status import ACTIVE, OPEN_TO_REFERRER, CaseStatus, label
from mailbot.cli.main import main


def test_codes_are_interfaces_vocabulary_in_the_cases_order() -> None:
    assert [s.value for s in CaseStatus] == [
        "awaiting_information",
        "manual_entry",
        "ready",
        "scheduled",
        "held",
        "decided",
        "closed",
    ]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("scheduled", CaseStatus.SCHEDULED),
        ("on an agenda", CaseStatus.SCHEDULED),
        ("On an  Agenda", CaseStatus.SCHEDULED),
        ("awaiting information", CaseStatus.AWAITING_INFORMATION),
        ("waiting for referrer", CaseStatus.AWAITING_INFORMATION),
        ("held back", CaseStatus.HELD),
    ],
)
def test_parse_takes_the_code_or_the_words_people_see(text: str, status: CaseStatus) -> None:
    assert CaseStatus.parse(text) is status


def test_parse_refuses_anything_else() -> None:
    with pytest.raises(ValueError):
        CaseStatus.parse("lost")


def test_every_status_has_distinct_words() -> None:
    labels = [s.label for s in CaseStatus]
    assert len(set(labels)) == len(labels) and all(labels)
    assert CaseStatus.SCHEDULED.heading == "On an agenda"
    assert label("no_such_status") == "no_such_status"


def test_only_the_early_statuses_let_a_referrer_change_the_referral() -> None:
    assert OPEN_TO_REFERRER == {CaseStatus.AWAITING_INFORMATION, CaseStatus.MANUAL_ENTRY, CaseStatus.READY}
    assert CaseStatus.CLOSED not in ACTIVE and len(ACTIVE) == len(CaseStatus) - 1


def test_cases_command_explains_an_unknown_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "--status", "lost"]) == 2
    err = capsys.readouterr().err
    assert "'lost' is not a status" in err and "scheduled (on an agenda)" in err
