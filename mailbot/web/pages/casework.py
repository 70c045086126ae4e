"""The team's work on a case beyond the form: notes, the owner, writing to the referrer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from mailbot.cases import notes, write_back
from mailbot.errors import UsageError
from mailbot.store.audit import audit
from mailbot.web.auth import mb, requires
from mailbot.web.pages.cases import case_or_403

bp = Blueprint("casework", __name__)


@bp.route("/cases/<ref>/notes", methods=["POST"])
@requires("team")
def add_note(ref: str) -> Any:
    app = mb()
    with app.db.session() as session:
        row = case_or_403(session, ref)
        try:
            notes.add_note(
                session, app.vault, row, app.clock.now(), g.user.name, request.form.get("note", "")
            )
        except UsageError as exc:
            session.rollback()
            flash(f"The note was not added: {exc}.", "error")
        else:
            flash("Note added.", "success")
        return redirect(url_for("cases.case", ref=row.ref) + "#notes-title")


@bp.route("/cases/<ref>/owner", methods=["POST"])
@requires("team")
def set_owner(ref: str) -> Any:
    app = mb()
    with app.db.session() as session:
        row = case_or_403(session, ref)
        owner = request.form.get("owner", "").strip() or None
        try:
            notes.set_owner(session, row, app.clock.now(), owner, g.user.name)
        except UsageError as exc:
            session.rollback()
            flash(f"The owner was not changed: {exc}.", "error")
        else:
            flash(
                f"{row.ref} is now owned by {owner}." if owner else f"{row.ref} has no owner now.", "success"
            )
        return redirect(url_for("cases.case", ref=row.ref))


@bp.route("/cases/<ref>/write", methods=["GET", "POST"])
@requires("team")
def write(ref: str) -> Any:
    app = mb()
    error, warnings = None, []
    text = request.form.get("text", "")
    with app.db.session() as session:
        row = case_or_403(session, ref)
        addresses = write_back.recipients(session, app.vault, row)
        recipient = request.form.get("recipient", addresses[0] if addresses else "")
        if request.method == "POST":
            warnings = write_back.personal_data_in(session, app.vault, row, text)
            if warnings and request.form.get("confirm") != "yes":
                error = None  # shown as a warning: the author decides
            else:
                try:
                    write_back.write_to_referrer(
                        session,
                        app.vault,
                        app.outbound,
                        app.clock.now(),
                        row,
                        text=text,
                        recipient=recipient,
                        author=g.user.name,
                    )
                except UsageError as exc:
                    session.rollback()
                    error, warnings = str(exc), []
                else:
                    flash(
                        f"Your message to {recipient} is in the outbox; it goes with the next send.",
                        "success",
                    )
                    return redirect(url_for("cases.case", ref=row.ref) + "#messages-title")
        else:
            audit(
                session,
                app.clock.now(),
                g.user.name,
                "case.viewed",
                case_id=row.id,
                detail="write to the referrer",
            )
        ref_shown = row.ref
    return render_template(
        "web/write.html",
        ref=ref_shown,
        addresses=addresses,
        recipient=recipient,
        text=text,
        error=error,
        warnings=warnings,
    ), (400 if error else 200)
