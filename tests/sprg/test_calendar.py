"""The meeting calendar and the cut-off rule: pure functions, no store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mailbot.errors import ConfigError
from mailbot.settings import load_settings
from mailbot.sprg.calendar import auto_meeting, parse_meetings


def test_dates_are_sorted_and_recognised() -> None:
    cal = parse_meetings(("2026-12-17", "2026-11-19"))
    assert cal.dates == (date(2026, 11, 19), date(2026, 12, 17))
    assert cal.is_meeting(date(2026, 11, 19))
    assert not cal.is_meeting(date(2026, 11, 20))
    assert cal.next_meeting(date(2026, 11, 20)) == date(2026, 12, 17)
    assert cal.next_meeting(date(2026, 12, 18)) is None


@pytest.mark.parametrize(
    ("rule", "month", "expected"),
    [
        ("third thursday monthly", (2026, 11), date(2026, 11, 19)),
        ("second tuesday monthly", (2026, 10), date(2026, 10, 13)),
        ("first monday monthly", (2027, 2), date(2027, 2, 1)),
        ("last friday monthly", (2026, 10), date(2026, 10, 30)),
        ("Fourth  Wednesday  Monthly", (2026, 12), date(2026, 12, 23)),
    ],
)
def test_monthly_rules(rule: str, month: tuple[int, int], expected: date) -> None:
    cal = parse_meetings((rule,))
    assert cal.next_meeting(date(*month, 1)) == expected
    assert cal.is_meeting(expected)
    assert not cal.is_meeting(date(*month, 2) if expected.day != 2 else date(*month, 3))


def test_rule_runs_across_the_year_end() -> None:
    cal = parse_meetings("third thursday monthly")
    assert cal.meetings_between(date(2026, 12, 1), date(2027, 2, 28)) == [
        date(2026, 12, 17),
        date(2027, 1, 21),
        date(2027, 2, 18),
    ]


@pytest.mark.parametrize(
    "value",
    [
        "2026-13-01",
        "every tuesday",
        "fifth monday monthly",
        "second funday monthly",
        "2026-11-19, second tuesday monthly",
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"MAILBOT_SPRG_MEETINGS": value}, base_dir=tmp_path)
    assert info.value.setting == "MAILBOT_SPRG_MEETINGS"


def test_attached_pack_needs_a_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"MAILBOT_SPRG_ATTACH_PACK": "on"}, base_dir=tmp_path)
    assert info.value.setting == "MAILBOT_SPRG_PACK_PASSWORD"
    with pytest.raises(ConfigError) as info:
        load_settings(env={"MAILBOT_SPRG_ATTACH_PACK": "perhaps"}, base_dir=tmp_path)
    assert info.value.setting == "MAILBOT_SPRG_ATTACH_PACK"


def test_cutoff() -> None:
    cal = parse_meetings("2026-10-20,2026-11-19,2026-12-17")
    ready = date(2026, 10, 12)
    # Eight days before 20 October is inside a ten-day cut-off: the next meeting then.
    assert auto_meeting(cal, ready, ready, 10) == date(2026, 11, 19)
    assert auto_meeting(cal, ready, ready, 8) == date(2026, 10, 20)
    # Exactly the cut-off is enough; one day less is not.
    assert auto_meeting(cal, date(2026, 11, 9), date(2026, 11, 9), 10) == date(2026, 11, 19)
    assert auto_meeting(cal, date(2026, 11, 10), date(2026, 11, 10), 10) == date(2026, 12, 17)
    # A case ready long ago goes to the next meeting still to come, never a past one.
    assert auto_meeting(cal, date(2026, 1, 1), date(2026, 11, 19), 10) == date(2026, 12, 17)
    assert auto_meeting(cal, date(2026, 12, 10), date(2026, 12, 10), 10) is None
