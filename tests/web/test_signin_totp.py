"""Two-step sign-in (TOTP) for workspace passwords: enrolment, sign-in, replay, recovery
codes, who must use it (``web.totp``), the secret encrypted, and ``users reset``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers.bot import make_env
from helpers.signin_support import (
    PASSWORD,
    client_from,
    code_step,
    csrf_of,
    enrol_two_step,
    secret_of,
    sign_in,
    signin_app,
    web_of,
)
from sqlalchemy import select, text

from mailbot.app import App
from mailbot.cli.main import main
from mailbot.clock import FixedClock
from mailbot.errors import ConfigError
from mailbot.store.models import AuditEntry, DataKey, WebRecoveryCode, WebTotp
from mailbot.web import totp, users


@pytest.fixture
def bot(tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    app = signin_app(tmp_path, clock)  # web.totp left at its default: admin
    yield app
    app.close()


def test_an_administrator_must_set_up_two_step_sign_in(bot: App, clock: FixedClock) -> None:
    client = client_from(web_of(bot))
    response = sign_in(client, "ada.admin")
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-step"
    first_token = client.get_cookie("mailbot_session")
    assert first_token is not None
    # Half-way: nothing else opens.
    for url in ("/admin/users", "/admin/settings", "/", "/sign-in/code"):
        answer = client.get(url)
        assert answer.status_code == 302 and answer.headers["Location"] == "/account/two-step"
    page = client.get("/account/two-step").get_data(as_text=True)
    assert "<svg" in page and 'role="img"' in page and "<title>" in page
    svg = page.split("<svg")[1].split("</svg>")[0]
    assert "<script" not in page and "<img" not in page and "href" not in svg
    # Reloading shows the same secret (the one already scanned), not a new one.
    assert secret_of(client.get("/account/two-step").get_data(as_text=True)) == secret_of(page)
    wrong = client.post("/account/two-step", data={"code": "000000", "csrf_token": csrf_of(page)})
    assert wrong.status_code == 400 and "The code is not right" in wrong.get_data(as_text=True)
    secret, codes = enrol_two_step(client, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    token = client.get_cookie("mailbot_session")
    assert token is not None and token.value != first_token.value  # a new session token
    assert client.get("/admin/users").status_code == 200
    with bot.db.session() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "ada.admin")).all()
        assert actions == ["user.two_step_set_up", "user.signed_in"]
        # The secret is stored sealed; the recovery codes only as keyed hashes.
        raw = session.execute(text("SELECT secret_enc FROM web_totp")).scalar_one()
        assert secret.encode() not in raw
        hashes = session.scalars(select(WebRecoveryCode.code_hash)).all()
        assert len(hashes) == 10 and not any(c.replace("-", "") in h for c in codes for h in hashes)
    # The recovery codes are not shown again.
    assert "abcde" not in client.get("/account/two-step").get_data(as_text=True)
    assert not any(c in client.get("/account/two-step").get_data(as_text=True) for c in codes)


def test_sign_in_with_a_code_once_only(bot: App, clock: FixedClock) -> None:
    web = web_of(bot)
    secret, _ = _enrol_admin(web, clock)
    client = client_from(web)
    response = sign_in(client, "ada.admin")
    assert response.headers["Location"] == "/sign-in/code"
    assert client.get("/admin/users").headers["Location"] == "/sign-in/code"
    # The code used at enrolment (same 30 seconds) is refused: a code works once.
    used = pyotp.TOTP(secret).at(clock.now())
    refused = code_step(client, used)
    assert refused.status_code == 401
    assert "used already" in refused.get_data(as_text=True)
    clock.advance(seconds=30)
    fresh = pyotp.TOTP(secret).at(clock.now())
    accepted = code_step(client, fresh)
    assert accepted.status_code == 302
    assert client.get("/admin/users").status_code == 200
    # Replayed by someone else who saw it: refused, even within its 30 seconds.
    other = client_from(web, "198.51.100.9")
    sign_in(other, "ada.admin")
    assert code_step(other, fresh).status_code == 401
    # A code from the step before still works (a phone's clock a little behind) — once.
    clock.advance(seconds=60)
    behind = pyotp.TOTP(secret).at(clock.now().timestamp() - 30)
    third = client_from(web, "192.0.2.5")
    sign_in(third, "ada.admin")
    assert code_step(third, behind).status_code == 302


def test_the_same_code_sent_twice_at_once_signs_in_once(bot: App, clock: FixedClock) -> None:
    web = web_of(bot)
    secret, _ = _enrol_admin(web, clock)
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock.now())
    clients = [client_from(web, f"192.0.2.{n}") for n in (1, 2, 3, 4)]
    pages = []
    for client in clients:
        sign_in(client, "ada.admin")
        pages.append(client.get("/sign-in/code").get_data(as_text=True))
    barrier = Barrier(len(clients))

    def send(pair: tuple[FlaskClient, str]) -> int:
        client, page = pair
        barrier.wait(timeout=30)
        return int(client.post("/sign-in/code", data={"code": code, "csrf_token": csrf_of(page)}).status_code)

    with ThreadPoolExecutor(len(clients)) as pool:
        codes = sorted(pool.map(send, zip(clients, pages, strict=True)))
    assert codes == [302, 401, 401, 401]


def test_recovery_codes_work_once_each(bot: App, clock: FixedClock) -> None:
    web = web_of(bot)
    _, codes = _enrol_admin(web, clock)
    client = client_from(web)
    sign_in(client, "ada.admin")
    response = code_step(client, codes[3].upper().replace("-", " "))
    assert response.status_code == 302
    assert "9 left" in client.get("/admin/users").get_data(as_text=True)
    again = client_from(web)
    sign_in(again, "ada.admin")
    assert code_step(again, codes[3]).status_code == 401
    with bot.db.session() as session:
        user = users.by_name(session, "ada.admin")
        assert user is not None and totp.recovery_codes_left(session, user.id) == 9
        details = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "user.signed_in")
        ).all()
    assert "password and a recovery code" in details


def test_wrong_codes_end_the_half_finished_sign_in(bot: App, clock: FixedClock) -> None:
    web = web_of(bot)
    _enrol_admin(web, clock)
    client = client_from(web, "198.51.100.9")
    sign_in(client, "ada.admin")
    for n in range(4):
        assert code_step(client, f"{n:06d}").status_code == 401
    last = code_step(client, "999999")
    assert last.status_code == 302 and last.headers["Location"] == "/sign-in"
    assert client.get("/sign-in/code").headers["Location"].startswith("/sign-in?")
    # They counted as failed sign-ins from that address: it is locked out now.
    assert sign_in(client, "ada.admin").status_code == 401
    assert sign_in(client_from(web, "192.0.2.10"), "ada.admin").status_code == 302
    with bot.db.session() as session:
        details = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "user.sign_in_refused")
        ).all()
    assert details[:5] == ["user ada.admin: wrong two-step code"] * 4 + [
        "user ada.admin: too many wrong codes"
    ]


def test_a_half_finished_sign_in_expires(bot: App, clock: FixedClock) -> None:
    web = web_of(bot)
    _enrol_admin(web, clock)
    client = client_from(web)
    sign_in(client, "ada.admin")
    clock.advance(minutes=11)
    assert client.get("/sign-in/code").headers["Location"].startswith("/sign-in")


def test_others_may_choose_two_step_sign_in(bot: App, clock: FixedClock) -> None:
    web = web_of(bot)
    client = client_from(web)
    assert sign_in(client, "tess.team").headers["Location"] == "/"  # not asked
    enrol_two_step(client, clock)
    assert "Two-step sign-in is on" in client.get("/account/two-step").get_data(as_text=True)
    later = client_from(web)
    assert sign_in(later, "tess.team").headers["Location"] == "/sign-in/code"


def test_all_means_everyone(tmp_path: Path, clock: FixedClock) -> None:
    app = signin_app(tmp_path, clock, MAILBOT_WEB_TOTP="all")
    try:
        client = client_from(web_of(app))
        assert sign_in(client, "sam.sprg").headers["Location"] == "/account/two-step"
        assert client.get("/meetings").headers["Location"] == "/account/two-step"
    finally:
        app.close()


def test_off_means_nobody(tmp_path: Path, clock: FixedClock) -> None:
    app = signin_app(tmp_path, clock, MAILBOT_WEB_TOTP="off")
    try:
        client = client_from(web_of(app))
        assert sign_in(client, "ada.admin").headers["Location"] == "/"
        assert client.get("/admin/users").status_code == 200
        assert client.get("/account/two-step").status_code == 404
    finally:
        app.close()


def test_a_wrong_setting_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    app = signin_app(tmp_path, clock, MAILBOT_WEB_TOTP="admins")
    try:
        with pytest.raises(ConfigError) as info:
            web_of(app)
        assert info.value.setting == "MAILBOT_WEB_TOTP"
    finally:
        app.close()


def test_users_reset_clears_two_step_sign_in(
    bot: App, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = web_of(bot)
    _enrol_admin(web, clock)
    with bot.db.session() as session:
        key_id = session.scalars(select(WebTotp.key_id)).one()
    for key, value in make_env(tmp_path, bot.settings.database_url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
    assert main(["users", "reset", "ada.admin"]) == 0
    with bot.db.session() as session:
        assert session.scalars(select(WebTotp)).all() == []
        assert session.scalars(select(WebRecoveryCode)).all() == []
        key = session.get(DataKey, key_id)
        assert key is not None and key.wrapped is None and key.destroyed_at is not None
    client = client_from(web)
    response = sign_in(client, "ada.admin", "a brand new password")
    assert response.headers["Location"] == "/account/two-step"  # set it up again


def _enrol_admin(web: Flask, clock: FixedClock) -> tuple[str, list[str]]:
    client = client_from(web)
    sign_in(client, "ada.admin", PASSWORD)
    return enrol_two_step(client, clock)


def test_templates_know_who_is_offered_two_step_sign_in(tmp_path: Path, clock: FixedClock) -> None:
    from flask import g, render_template_string

    for setting, expected in (("admin", "yes"), ("off", "no")):
        app = signin_app(tmp_path / setting, clock, MAILBOT_WEB_TOTP=setting)
        try:
            web = web_of(app)
            with web.test_request_context("/"), app.db.session() as session:
                g.user = users.by_name(session, "tess.team")
                shown = render_template_string("{{ 'yes' if two_step_offered else 'no' }}")
            assert shown == expected
        finally:
            app.close()
