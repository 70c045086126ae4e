"""Workspace sign-in, sessions, CSRF, roles and the audit of case views (Flask test client)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from helpers.bot import make_env
from helpers.workspace import PASSWORD, csrf_of, post, sign_in, web_app
from sqlalchemy import select

from mailbot.app import App
from mailbot.cli import main as cli
from mailbot.clock import FixedClock
from mailbot.store.models import AuditEntry, Case
from mailbot.web import users
from mailbot.web.factory import create_app


@pytest.fixture
def bot(seeded_bot: App) -> App:
    return seeded_bot


@pytest.fixture
def web(bot: App) -> Flask:
    return web_app(bot)


def test_signed_out_user_is_sent_to_sign_in(web: Flask) -> None:
    client = web.test_client()
    for url in ("/", "/queue", "/cases/COC-2026-0001", "/meetings", "/trends", "/export.csv", "/admin/users"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/sign-in")
    # A POST without a session and without a token changes nothing.
    assert client.post("/cases/COC-2026-0001/close", data={"reason": "x"}).status_code == 400


def test_wrong_password_is_refused_and_sets_no_session(web: Flask) -> None:
    client = web.test_client()
    response = sign_in(client, "tess.team", "not the password at all")
    assert response.status_code == 401
    assert "is not right" in response.get_data(as_text=True)
    assert client.get_cookie("mailbot_session") is None
    assert sign_in(client, "nobody", PASSWORD).status_code == 401


def test_five_wrong_passwords_lock_the_account(web: Flask, bot: App, clock: FixedClock) -> None:
    client = web.test_client()
    for _ in range(5):
        sign_in(client, "tess.team", "wrong password here")
    assert sign_in(client, "tess.team").status_code == 401
    clock.advance(minutes=16)
    assert sign_in(client, "tess.team").status_code == 302


def test_session_cookie_flags(bot: App) -> None:
    client = web_app(bot).test_client()
    cookie = sign_in(client, "tess.team").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    secure = create_app(bot, secure_cookies=True).test_client()
    page = secure.get("/sign-in")
    response = secure.post(
        "/sign-in",
        data={"name": "tess.team", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))},
    )
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("mailbot_session=") and "Secure" in c for c in cookies)


def test_sign_in_needs_its_csrf_token(web: Flask) -> None:
    client = web.test_client()
    client.get("/sign-in")
    response = client.post("/sign-in", data={"name": "tess.team", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get_cookie("mailbot_session") is None


def test_missing_csrf_token_changes_nothing(web: Flask, bot: App) -> None:
    client = web.test_client()
    sign_in(client, "tess.team")
    response = client.post(
        "/cases/COC-2026-0002/edit/referrer.role", data={"value": "Health visitor", "reason": "phone call"}
    )
    assert response.status_code == 400
    assert "could not be accepted" in response.get_data(as_text=True)
    response = client.post(
        "/cases/COC-2026-0002/edit/referrer.role",
        data={"value": "Health visitor", "reason": "phone call", "csrf_token": "forged"},
    )
    assert response.status_code == 400
    with bot.db.session() as session:
        case = session.scalars(select(Case).where(Case.ref == "COC-2026-0002")).one()
        assert case.current_version == 1


def test_idle_session_is_signed_out(web: Flask, clock: FixedClock) -> None:
    client = web.test_client()
    sign_in(client, "tess.team")
    assert client.get("/queue").status_code == 200
    clock.advance(minutes=19)
    assert client.get("/queue").status_code == 200  # activity keeps the session alive
    clock.advance(minutes=21)
    response = client.get("/queue")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out because the workspace was not used" in page


def test_sign_out_ends_the_session(web: Flask) -> None:
    client = web.test_client()
    sign_in(client, "tess.team")
    token = client.get_cookie("mailbot_session")
    assert token is not None
    assert post(client, "/sign-out", {}, page="/queue").status_code == 302
    other = web.test_client()
    other.set_cookie("mailbot_session", token.value)
    assert other.get("/queue").status_code == 302


def test_roles(web: Flask) -> None:
    team, sprg, admin = web.test_client(), web.test_client(), web.test_client()
    sign_in(team, "tess.team")
    sign_in(sprg, "sam.sprg")
    sign_in(admin, "ada.admin")
    assert team.get("/admin/users").status_code == 403
    assert admin.get("/queue").status_code == 403
    assert admin.get("/cases/COC-2026-0001").status_code == 403
    assert admin.get("/admin/users").status_code == 200
    assert admin.get("/admin/settings").status_code == 200
    for url in (
        "/queue",
        "/trends",
        "/export.csv",
        "/quarantine",
        "/audit",
        "/cases/COC-2026-0001/edit/referrer.name",
    ):
        assert sprg.get(url).status_code == 403, url
    # COC-2026-0001 is on the agenda of 29/10/2026; COC-2026-0003 is on no agenda.
    assert sprg.get("/cases/COC-2026-0001").status_code == 200
    assert sprg.get("/cases/COC-2026-0003").status_code == 403
    assert sprg.get("/meetings").status_code == 200
    assert sprg.get("/meetings/2026-10-29/pack.docx").data[:2] == b"PK"
    page = sprg.get("/cases/COC-2026-0001").get_data(as_text=True)
    assert "Change" not in page and "Messages" not in page  # read only, no correspondence


@pytest.mark.both_databases
def test_every_case_view_is_audited_with_the_user_name(web: Flask, bot: App) -> None:
    client = web.test_client()
    sign_in(client, "tess.team")
    client.get("/cases/COC-2026-0002")
    client.get("/cases/COC-2026-0002")
    with bot.db.session() as session:
        case = session.scalars(select(Case).where(Case.ref == "COC-2026-0002")).one()
        views = session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == case.id, AuditEntry.action == "case.viewed")
        ).all()
    assert [v.actor for v in views] == ["tess.team", "tess.team"]


def test_pages_are_not_cached_and_carry_a_strict_policy(web: Flask) -> None:
    client = web.test_client()
    sign_in(client, "tess.team")
    response = client.get("/cases/COC-2026-0001")
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_next_is_only_followed_within_the_site(web: Flask) -> None:
    client = web.test_client()
    page = client.get("/sign-in?next=//evil.example/x").get_data(as_text=True)
    response = client.post(
        "/sign-in",
        data={
            "name": "tess.team",
            "password": PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": csrf_of(page),
        },
    )
    assert response.headers["Location"] == "/"


@pytest.mark.both_databases
def test_admin_adds_disables_and_resets_users(web: Flask, bot: App) -> None:
    admin = web.test_client()
    sign_in(admin, "ada.admin")
    page = post(admin, "/admin/users", {"action": "add", "name": "new.person", "role": "team"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "shown only once" in text
    password = text.split('class="password">')[1].split("<")[0]
    newbie = web.test_client()
    assert sign_in(newbie, "new.person", password).status_code == 302
    post(admin, "/admin/users", {"action": "disable", "name": "new.person"})
    assert newbie.get("/queue").status_code == 302  # their session ended
    assert sign_in(web.test_client(), "new.person", password).status_code == 401


def test_users_command(
    tmp_path: Path, bot: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in make_env(tmp_path, bot.settings.database_url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["users", "add", "cli.user", "--role", "sprg"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["users", "reset", "cli.user"]) == 2
    assert cli.main(["users", "disable", "cli.user"]) == 0
    assert cli.main(["users", "add", "x", "--role", "boss"]) == 2
    with bot.db.session() as session:
        user = users.by_name(session, "cli.user")
        assert user is not None and user.role == "sprg" and user.disabled
        assert user.password_hash.startswith("$argon2id$")
    assert "cli.user added" in capsys.readouterr().out
