"""The resend lookup reads the versions with the new form's keyed digest, not every
version of the sender's open cases; versions from before the digest are still compared."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import pytest
from helpers.resend_cases import SENDER, SUBJECT, open_case, referral

from mailbot.app import App
from mailbot.cases.lookup import DbCaseLookup
from mailbot.cases.referral import apply_fallbacks
from mailbot.store.models import ReferralVersion
from mailbot.store.vault import Vault

CASES = 25  # under MAX_RESEND_CASES: every one of them is within reach of the lookup


def counting(monkeypatch: pytest.MonkeyPatch, vault: Vault) -> tuple[list[str], list[str]]:
    """The columns decrypted, and those the lookup itself decrypted to compare (the
    summary of the case found decrypts its current version too): the upper bounds
    below mean something only while the lookup's own decryption is seen here."""
    opened: list[str] = []
    compared: list[str] = []
    real = vault.open_json

    def open_json(session: Any, row: Any, column: str, **kw: Any) -> Any:
        opened.append(column)
        if sys._getframe(1).f_code is DbCaseLookup.resent.__code__:
            compared.append(column)
        return real(session, row, column, **kw)

    monkeypatch.setattr(vault, "open_json", open_json)
    return opened, compared


def ask(app: App, form: dict[str, Any], subject: str = "RESEND: " + SUBJECT) -> str | None:
    now = app.clock.now()
    completed, used = apply_fallbacks(form, SENDER, now)
    with app.db.session() as session:
        found = DbCaseLookup(session, app.vault).resent(
            SENDER, completed, used, now - timedelta(days=14), subject
        )
        return found.ref if found else None


def test_a_resend_among_many_open_cases_decrypts_one_version(
    any_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = any_app  # on SQLite and PostgreSQL
    now = app.clock.now()
    with app.db.session() as session, session.begin():
        refs = [open_case(session, app.vault, now, referral(n), n).ref for n in range(CASES)]
    opened, compared = counting(monkeypatch, app.vault)
    assert ask(app, referral(3)) == refs[3]
    assert compared == ["referral_enc"]  # the match, decrypted by the lookup to compare it
    assert opened.count("referral_enc") <= 2  # the match (and the summary's current version)
    opened.clear()
    assert ask(app, referral(CASES + 1)) is None  # a new child: nothing to decrypt at all
    assert ask(app, referral(3), subject="Case of concern referral (PDF)") is None
    assert opened.count("referral_enc") == 0


def test_versions_from_before_the_index_are_still_compared(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    now = app.clock.now()
    with app.db.session() as session, session.begin():
        refs = [open_case(session, app.vault, now, referral(n), n).ref for n in range(CASES)]
        old = session.query(ReferralVersion).all()
        for row in old[:5]:
            row.resend_index = None  # as the migration leaves them
    opened, compared = counting(monkeypatch, app.vault)
    assert ask(app, referral(2)) == refs[2]
    matched = len(compared)
    assert matched >= 1  # the match was decrypted by the lookup and compared
    assert ask(app, referral(CASES + 1)) is None
    assert len(compared) - matched >= 5  # no match: every unindexed row compared
    assert opened.count("referral_enc") <= 5 + 5 + 1  # only the old rows, and the match


def test_a_field_left_blank_and_filled_from_the_mail_is_still_the_same_referral(app: App) -> None:
    now = app.clock.now()
    form = referral(7)
    with app.db.session() as session, session.begin():
        ref = open_case(session, app.vault, now, form, 7).ref  # referrer.email from the sender
    again = referral(7)
    again["referrer"]["email"] = SENDER.upper()  # written on the form this time
    assert ask(app, again) == ref
    other = referral(7)
    other["incident_details"] += " More."
    assert ask(app, other) is None
