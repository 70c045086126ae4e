"""Every page template of the workspace renders, for the role that sees it."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import render_template, template_rendered
from flask.testing import FlaskClient
from helpers.signin_support import client_from, code_step, enrol_two_step, signin_app, web_of
from helpers.signin_support import sign_in as sign_in_once
from helpers.workspace import sign_in, web_app
from sqlalchemy import select

from mailbot.app import App
from mailbot.clock import FixedClock
from mailbot.store.models import Attachment, Case, InboundMessage


@pytest.fixture
def rendered() -> Iterator[set[str]]:
    names: set[str] = set()

    def record(_sender: Any, template: Any, context: Any, **_extra: Any) -> None:
        names.add(template.name)

    template_rendered.connect(record)
    yield names
    template_rendered.disconnect(record)


def client_as(bot: App, name: str) -> FlaskClient:
    client = web_app(bot).test_client()
    sign_in(client, name)
    return client


def sign_in_with_two_steps(tmp_path: Path, clock: FixedClock) -> None:
    """An administrator sets up two-step sign-in, then signs in again with a code."""
    bot = signin_app(tmp_path / "two-step", clock)  # web.totp at its default: admin
    try:
        web = web_of(bot)
        first = client_from(web)
        sign_in_once(first, "ada.admin")
        secret, _codes = enrol_two_step(first, clock)
        clock.advance(seconds=60)
        again = client_from(web)
        sign_in_once(again, "ada.admin")
        assert code_step(again, pyotp.TOTP(secret).at(clock.now())).status_code == 302
    finally:
        bot.close()


@pytest.mark.both_databases
def test_every_page_template_renders(
    seeded_bot: App, rendered: set[str], tmp_path: Path, clock: FixedClock
) -> None:
    with seeded_bot.db.session() as session:
        att, ref = session.execute(
            select(Attachment, Case.ref)
            .join(Case, Case.id == Attachment.case_id)
            .where(Attachment.kind == "form")
        ).first()
        att_id = att.id
        held = session.scalars(select(InboundMessage.id).where(InboundMessage.action == "quarantine")).first()
    anonymous = web_app(seeded_bot).test_client()
    assert anonymous.get("/sign-in").status_code == 200
    team = client_as(seeded_bot, "tess.team")
    for url in (
        "/queue",
        f"/cases/{ref}",
        f"/cases/{ref}/edit/child.dob",
        f"/cases/{ref}/merge",
        f"/cases/{ref}/split/{att_id}",
        f"/cases/{ref}/outcome",
        "/quarantine",
        "/meetings",
        "/trends",
        "/audit",
        "/cases/COC-2026-9999",
        f"/quarantine/{held}",
        f"/cases/{ref}/write",
        "/actions",
        "/report",
    ):
        response = team.get(url)
        assert response.status_code in (200, 404), url
    admin = client_as(seeded_bot, "ada.admin")
    for url in ("/admin/users", "/admin/settings"):
        assert admin.get(url).status_code == 200, url
    sign_in_with_two_steps(tmp_path, clock)
    web = web_app(seeded_bot)
    with web.test_request_context("/sign-in/entra/callback"):
        assert "/queue" in render_template("web/signed_in.html", target="/queue")
    folder = resources.files("mailbot") / "templates" / "web"
    pages = {
        f"web/{p.name}" for p in folder.iterdir() if p.name.endswith(".html") and not p.name.startswith("_")
    }
    assert pages - rendered == set()
