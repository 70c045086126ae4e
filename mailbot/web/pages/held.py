"""Held messages: the team reads each one and releases or rejects it."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from mailbot.cases import views
from mailbot.cases.conversation import inbound_entry
from mailbot.errors import NotFound, UsageError
from mailbot.intake.release import held_decision, reject, release, released_words
from mailbot.sprg.decision_form import HELD_DECISION, get
from mailbot.store.audit import Entry, audit, audit_many
from mailbot.store.models import Case, InboundMessage
from mailbot.web.auth import mb, requires

bp = Blueprint("held", __name__)

#: The form's outcome section, in its order and words, for the decision being confirmed.
DECISION_ROWS = (
    ("Decision made to conduct a single agency Learning Inquiry (Y/N)", "outcome.single_agency.decision"),
    ("Which agency(s)", "outcome.single_agency.agencies"),
    ("Grounds for decision", "outcome.single_agency.grounds"),
    ("Decision made to conduct a multi-agency Learning Inquiry (Y/N)", "outcome.multi_agency.decision"),
    ("Which agency(s)", "outcome.multi_agency.agencies"),
    ("Grounds for decision", "outcome.multi_agency.grounds"),
    ("Methodology (including whether parents/child involved)", "outcome.methodology"),
    ("Date for final report at SPRG", "outcome.final_report_date"),
    ("Any other actions (with name/date)", "outcome.other_actions"),
    ("Date of SPRG Meeting", "sprg.meeting_date"),
    ("Chair of SPRG Meeting", "sprg.chair"),
)


@bp.route("/quarantine")
@requires("team")
def quarantine() -> Any:
    app = mb()
    with app.db.session() as session:
        items = views.quarantine(session, app.vault)
        audit_many(
            session,
            app.clock.now(),
            g.user.name,
            [Entry("quarantine.viewed", message_id=i.id, detail="workspace") for i in items],
        )
    return render_template("web/quarantine.html", items=items)


@bp.route("/quarantine/<row_id>")
@requires("team")
def held_message(row_id: str) -> Any:
    """One held message, read in full, so Release or Reject is an informed decision."""
    if not re.fullmatch(r"[0-9a-f]{32}", row_id):
        abort(404)
    app = mb()
    with app.db.session() as session:
        row = session.get(InboundMessage, row_id)
        if row is None or row.action != "quarantine":
            abort(404)
        linked = session.get(Case, row.linked_case_id) if row.linked_case_id else None
        entry = inbound_entry(session, app.vault, row)
        audit(
            session,
            app.clock.now(),
            g.user.name,
            "message.viewed",
            message_id=row.id,
            case_id=linked.id if linked else None,
            detail="held message, workspace",
        )
        linked_ref = linked.ref if linked else None
        confirms = entry.reason.startswith(HELD_DECISION)
        # What the team would confirm: the decision the e-mailed form carries.
        decision = held_decision(app, session, row.id) if confirms else None
    rows = [(label, get(decision, key)) for label, key in DECISION_ROWS] if decision else []
    return render_template(
        "web/held_message.html", e=entry, linked_ref=linked_ref, confirms=confirms, decision=rows
    )


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
            reject(
                session,
                app.vault,
                app.clock.now(),
                row_id,
                actor=g.user.name,
                reason=request.form.get("reason", ""),
            )
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
