"""Values that are present but cannot be right: asked of the referrer as queries.

Pure checks on the referral record (FIELDS.md shape).  Problems are short phrases in
plain British English that name the field, never its value (they go into e-mails).
"""

from __future__ import annotations

import re
from datetime import date

from mailbot.forms.model import Query, Referral
from mailbot.forms.record import get_path

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_UNBORN = re.compile(r"\bunborn\b|\bEDD\b|expected date of (delivery|birth)|\bdue date\b", re.IGNORECASE)

DOB_FUTURE = "the date of birth is in the future"
DOD_BEFORE_DOB = "the date of death is before the date of birth"
DOD_FUTURE = "the date of death is in the future"
REFERRAL_FUTURE = "the date of referral is in the future"
NHS_LENGTH = "the NHS number should be 10 digits"
NHS_CHECK = "the NHS number is not valid (its check digit does not match)"
EMAIL_BAD = "the email address is not a valid email address"


def nhs_number_ok(number: str) -> bool:
    """Modulus 11: weights 10..2 on the first nine digits; 11 - remainder is the tenth."""
    if not re.fullmatch(r"\d{10}", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9])


def _iso(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def is_unborn(referral: Referral) -> bool:
    """Whether the form says the child is not yet born (an expected date of delivery)."""
    texts = [
        get_path(referral, k)
        for k in ("child.full_name", "incident_details", "anticipated_learning", "child.address")
    ]
    return any(isinstance(t, str) and _UNBORN.search(t) for t in texts)


def _dates(referral: Referral, today: date) -> list[Query]:
    queries = []
    dob, dod = _iso(get_path(referral, "child.dob")), _iso(get_path(referral, "child.dod"))
    if dob and dob > today and not is_unborn(referral):
        queries.append(Query("child.dob", DOB_FUTURE))
    if dob and dod and dod < dob:
        queries.append(Query("child.dod", DOD_BEFORE_DOB))
    if dod and dod > today:
        queries.append(Query("child.dod", DOD_FUTURE))
    referral_date = _iso(get_path(referral, "referral_date"))
    if referral_date and referral_date > today:
        queries.append(Query("referral_date", REFERRAL_FUTURE))
    return queries


def validate(referral: Referral, *, today: date, received_year: int) -> list[Query]:
    """Queries about values that are present but not acceptable, in form order.

    ``received_year`` is the year the referral arrived; a referral date more than a
    year away from it is also queried (a mistyped year).
    """
    queries = _dates(referral, today)
    referral_date = _iso(get_path(referral, "referral_date"))
    if referral_date and abs(referral_date.year - received_year) > 1:
        queries.append(Query("referral_date", "the year of the date of referral looks wrong"))
    nhs = get_path(referral, "child.nhs_number")
    if isinstance(nhs, str) and nhs:
        digits = "".join(nhs.split())
        if not re.fullmatch(r"\d{10}", digits):
            queries.append(Query("child.nhs_number", NHS_LENGTH))
        elif not nhs_number_ok(digits):
            queries.append(Query("child.nhs_number", NHS_CHECK))
    email = get_path(referral, "referrer.email")
    if isinstance(email, str) and email and not _EMAIL.match(email.strip()):
        queries.append(Query("referrer.email", EMAIL_BAD))
    order = ["referrer.email", "referral_date", "child.dob", "child.dod", "child.nhs_number"]
    return sorted(queries, key=lambda q: order.index(q.field) if q.field in order else 99)
