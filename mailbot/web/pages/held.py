"""Held messages: the team reads each one and releases or rejects it."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from mailbot.cases import views
from mailbot.errors import NotFound, UsageError
from mailbot.intake.release import reject, release, released_words
from mailbot.store.audit import Entry, audit_many
from mailbot.web.auth import mb, requires

bp = Blueprint("held", __name__)


@bp.route("/quarantine")
@requires("team")
def quarantine() -> Any:
    app = mb()
    with app.db.session() as session:
        items = views.quarantine(session, app.vault)
        audit_many(session, app.clock.now(), g.user.name,
                   [Entry("quarantine.viewed", message_id=i.id, detail="workspace")
                    for i in items])
    return render_template("web/quarantine.html", items=items)


@bp.route("/quarantine/<row_id>/release", methods=["POST"])
@requires("team")
def release_held(row_id: str) -> Any:
    try:
        refs = release(mb(), row_id, actor=g.user.name)
    except (UsageError, NotFound) as exc:
        flash(f"The message was not released: {exc}.", "error")
    else:
        flash(released_words(refs), "success")
    return redirect(_back())


@bp.route("/quarantine/<row_id>/reject", methods=["POST"])
@requires("team")
def reject_held(row_id: str) -> Any:
    app = mb()
    with app.db.session() as session:
        try:
            reject(session, app.vault, app.clock.now(), row_id, actor=g.user.name,
                   reason=request.form.get("reason", ""))
        except (UsageError, NotFound) as exc:
            session.rollback()
            flash(f"The message was not rejected: {exc}.", "error")
        else:
            flash("The message was rejected and filed.", "success")
    return redirect(_back())


def _back() -> str:
    target = request.form.get("back", "")
    if re.fullmatch(r"/cases/COC-\d{4}-\d{4,}", target):
        return target
    return url_for("held.quarantine")
