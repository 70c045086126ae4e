"""Administrators' pages: workspace users, and the settings in force (secrets hidden)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from mailbot.errors import NotFound, UsageError
from mailbot.settings import REGISTRY
from mailbot.store.audit import audit
from mailbot.store.models import ROLES, WebUser
from mailbot.web import users as user_store
from mailbot.web.auth import mb, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_WORDS = {
    "team": "CSCP team (all case work)",
    "sprg": "SPRG member (cases on agendas, and the packs)",
    "admin": "Administrator (users and settings)",
}


def new_password() -> str:
    """A password to hand over once: 4 groups of 5 letters and digits, easy to read out."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


@bp.route("/users", methods=["GET", "POST"])
@requires("admin")
def users() -> Any:
    app = mb()
    shown_password = None
    error = None
    if request.method == "POST":
        action = request.form.get("action", "")
        name = request.form.get("name", "").strip()
        now = app.clock.now()
        with app.db.session() as session:
            try:
                if action == "add":
                    shown_password = new_password()
                    user_store.add_user(session, name, request.form.get("role", ""), shown_password, now)
                elif action == "disable":
                    if name == g.user.name:
                        raise UsageError("you cannot disable your own account")
                    user_store.disable_user(session, name)
                elif action == "enable":
                    user_store.enable_user(session, name)
                elif action == "reset":
                    shown_password = new_password()
                    user_store.reset_password(session, name, shown_password, now)
                else:
                    raise UsageError("unknown action")
                audit(session, now, g.user.name, f"user.{action}", detail=name)
            except (UsageError, NotFound) as exc:
                session.rollback()
                shown_password = None
                error = str(exc)
        if error is None and shown_password is None:
            flash(f"{name}: done ({action}).", "success")
            return redirect(url_for("admin.users"))
    with app.db.session() as session:
        rows = list(session.scalars(select(WebUser).order_by(WebUser.name)))
    return render_template(
        "web/users.html",
        users=rows,
        roles=ROLES,
        role_words=ROLE_WORDS,
        shown_password=shown_password,
        shown_for=request.form.get("name"),
        error=error,
    ), (400 if error else 200)


@bp.route("/settings")
@requires("admin")
def settings() -> Any:
    current = mb().settings
    rows = []
    for setting in REGISTRY:
        value = getattr(current, setting.name, None)
        if setting.secret:
            shown = "(set)" if value else "(not set)"
        elif isinstance(value, tuple):
            shown = ", ".join(value) or "-"
        elif setting.name == "database_url" and isinstance(value, str):
            shown = value.split("@")[-1] if "@" in value else value
        else:
            shown = "-" if value is None else str(value)
        rows.append({"env": setting.env, "toml": setting.toml, "help": setting.help, "value": shown})
    return render_template("web/settings.html", rows=rows)
