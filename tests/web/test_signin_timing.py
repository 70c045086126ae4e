"""A refused sign-in takes the same time whatever the reason (issue 12 section 4).

Before this change a locked account answered in about 2 ms and a wrong password in about
200 ms, so anyone could tell which names exist and which are locked. Now each refusal
verifies one argon2 hash of the same cost and runs the same statements. Measured here
through the web form, 20 tries of each kind taken in turn (so a busy machine slows them
all alike); the medians must be within 20% of each other.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.signin_support import PASSWORD, client_from, csrf_of, signin_app, web_of

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.web import users

ROUNDS = 20


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = signin_app(tmp_path, clock, MAILBOT_WEB_TOTP="off")
    with app.db.session() as session:
        users.add_user(session, "ed.entra", "team", PASSWORD, clock.now())
        entra = users.by_name(session, "ed.entra")
        assert entra is not None
        entra.source, entra.password_hash = "oidc", "!"
        users.disable_user(session, "sam.sprg")
    yield app
    app.close()


@pytest.mark.slow
def test_every_refusal_takes_the_same_time(bot: App) -> None:
    web = web_of(bot)
    attacker = "198.51.100.9"
    locker = client_from(web, attacker)
    for _ in range(5):  # ada.admin is locked for the attacker's address
        locker.post(
            "/sign-in",
            data={
                "name": "ada.admin",
                "password": "wrong guess",
                "csrf_token": csrf_of(locker.get("/sign-in").get_data(as_text=True)),
            },
        )
    kinds = {
        # a fresh address each time, so that the wrong guesses never lock the account
        "wrong password": ("tess.team", "wrong guess", None),
        "unknown name": ("no.such.person", "wrong guess", attacker),
        "locked account": ("ada.admin", "wrong guess", attacker),
        "locked, right password": ("ada.admin", PASSWORD, attacker),
        "disabled account": ("sam.sprg", PASSWORD, attacker),
        "Entra ID account": ("ed.entra", "wrong guess", attacker),
    }
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    pages: dict[str, set[str]] = {kind: set() for kind in kinds}
    for n in range(ROUNDS):
        for kind, (name, password, address) in kinds.items():
            client = client_from(web, address or f"203.0.113.{n + 1}")
            token = csrf_of(client.get("/sign-in").get_data(as_text=True))
            start = time.perf_counter()
            response = client.post("/sign-in", data={"name": name, "password": password, "csrf_token": token})
            times[kind].append(time.perf_counter() - start)
            assert response.status_code == 401, kind
            pages[kind].add(response.get_data(as_text=True).replace(token, ""))
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    report = ", ".join(f"{kind} {value * 1000:.0f} ms" for kind, value in medians.items())
    print("median refusal times:", report)
    assert max(medians.values()) <= 1.2 * min(medians.values()), report
    assert len(set().union(*pages.values())) == 1  # and the same words
