"""Whether a form is about a case's child: the pure rule the follow-up handler uses."""

from __future__ import annotations

from typing import Any

import pytest

from mailbot.cases.referral import same_child
from mailbot.forms import empty_referral


def child(name: str | None, dob: str | None) -> dict[str, Any]:
    record = empty_referral()
    record["child"].update(full_name=name, dob=dob)
    return record


CASE = child("Zoë Smith-Jones", "2015-03-03")

CASES = [
    ("the same", child("Zoë Smith-Jones", "2015-03-03"), True),
    ("case, spacing and accents aside", child("  ZOE   smith-jones ", "2015-03-03"), True),
    ("a date of birth with spaces around it", child("Zoe Smith-Jones", " 2015-03-03 "), True),
    ("another name", child("Jaylen Mockford", "2015-03-03"), False),
    ("another date of birth", child("Zoë Smith-Jones", "2015-03-04"), False),
    ("another name, no date of birth", child("Jaylen Mockford", None), False),
    ("the same name, no date of birth", child("Zoe Smith Jones", None), True),
    ("nothing to compare", child(None, None), None),
    ("an unreadable date of birth", child("Zoë Smith-Jones", "3rd March"), False),
]


@pytest.mark.parametrize(("form", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_child(form: dict[str, Any], expected: bool | None) -> None:
    assert same_child(CASE, form) is expected


def test_a_case_without_a_child_yet_takes_any_form() -> None:
    assert same_child(child(None, None), child("Jaylen Mockford", "2010-07-14")) is None
