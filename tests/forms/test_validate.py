"""Values present but not acceptable become queries in plain words."""

from __future__ import annotations

from datetime import date

from mailbot.forms import empty_referral, validate
from mailbot.forms.validate import nhs_number_ok

TODAY = date(2026, 10, 5)


def referral(**values: str) -> dict:
    record = empty_referral()
    for key, value in values.items():
        node = record
        *parents, last = key.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return record


def fields(record: dict) -> list[str]:
    return [q.field for q in validate(record, today=TODAY, received_year=2026)]


def test_clean_referral_has_no_queries() -> None:
    record = referral(
        child__dob="2015-03-03",
        child__nhs_number="9990158398",
        referrer__email="a.b@example.org",
        referral_date="2026-10-05",
    )
    assert fields(record) == []


def test_future_date_of_birth() -> None:
    queries = validate(referral(child__dob="2027-01-01"), today=TODAY, received_year=2026)
    assert [(q.field, q.problem) for q in queries] == [("child.dob", "the date of birth is in the future")]


def test_unborn_child_with_edd_is_accepted() -> None:
    record = referral(
        child__dob="2027-03-01",
        child__full_name="Unborn baby Example",
        incident_details="Mother is pregnant: unborn, EDD 03/2027",
    )
    assert fields(record) == []


def test_date_of_death_before_birth() -> None:
    assert fields(referral(child__dob="2015-03-03", child__dod="2014-01-01")) == ["child.dod"]


def test_nhs_number_check_digit_and_length() -> None:
    assert fields(referral(child__nhs_number="9990158399")) == ["child.nhs_number"]
    assert fields(referral(child__nhs_number="12345")) == ["child.nhs_number"]
    assert nhs_number_ok("9990158398") and not nhs_number_ok("999015839X")


def test_referrer_email_must_be_an_address() -> None:
    assert fields(referral(referrer__email="call me on 0208")) == ["referrer.email"]
    assert fields(referral(referrer__email="x@example")) == ["referrer.email"]


def test_problems_never_contain_the_value() -> None:
    record = referral(child__nhs_number="9990158399", referrer__email="bad-address")
    for query in validate(record, today=TODAY, received_year=2026):
        assert "9990158399" not in query.problem and "bad-address" not in query.problem
