"""A case's pages: the case laid out like the form, its edits, files, merge, split, close."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from mailbot.cases import conversation, editing, notes, views
from mailbot.cases import store as case_store
from mailbot.cases.queue import short_label
from mailbot.cases.referral import get_path
from mailbot.cases.views import CaseView
from mailbot.clock import london
from mailbot.errors import NotFound, UsageError
from mailbot.sprg import actions as action_plan
from mailbot.store.audit import audit
from mailbot.store.models import Attachment, Case, ReferralVersion
from mailbot.store.sealed_blob import open_pieces
from mailbot.web import present
from mailbot.web.auth import may_read_case, mb, requires
from mailbot.web.pages.meetings import upcoming_meetings

bp = Blueprint("cases", __name__)


def case_or_403(session: Any, ref: str) -> Case:
    if not re.fullmatch(r"(?i)COC-\d{4}-\d{4,}", ref):
        abort(404)
    case = case_store.case_by_ref(session, ref)
    if not may_read_case(g.user, case):
        abort(403)
    return case


@bp.route("/cases/<ref>")
def case(ref: str) -> Any:
    if g.user.role not in ("team", "sprg"):
        abort(403)
    app = mb()
    now = app.clock.now()
    with app.db.session() as session:
        row = case_or_403(session, ref)
        item = views.show(session, app.vault, row.ref, from_address=app.settings.mail_from)
        history = _history(session, row)
        entries = (
            conversation.conversation(session, app.vault, row, item.messages, app.settings.mail_from)
            if g.user.role == "team"
            else []
        )
        held = views.quarantine(session, app.vault, case_id=row.id)
        audit(
            session,
            now,
            g.user.name,
            "case.viewed",
            case_id=row.id,
            detail="workspace: the form and the conversation" if entries else "workspace",
        )
        closed_reason = (
            app.vault.open_text(session, row, "close_reason_enc") if row.close_reason_enc else None
        )
        team = g.user.role == "team"
        plan = action_plan.listed(session, app.vault, london(now).date(), ref=row.ref) if team else []
        work = {
            "notes": notes.notes_of(session, app.vault, row) if team else [],
            "owner": row.owner,
            "team_names": notes.team_names(session) if team else [],
        }
    return render_template(
        "web/case.html",
        item=item,
        form=present.layout(item),
        conversation=entries,
        actions=plan,
        work=work,
        history=history,
        held=held,
        closed_reason=closed_reason,
        kind_words=present.KIND_WORDS,
        team=g.user.role == "team",
        editable_keys=_editable_keys(item),
        label=short_label,
        upcoming=upcoming_meetings() if g.user.role == "team" else [],
    )


def _editable_keys(item: CaseView) -> set[str]:
    keys = {k for _t, ks in present.SECTIONS for k in ks} | set(present.QUESTIONS)
    return keys | {"themes", "household_address"}


def _history(session: Any, case: Case) -> list[dict[str, Any]]:
    app = mb()
    out = []
    for version in session.scalars(
        select(ReferralVersion).where(ReferralVersion.case_id == case.id).order_by(ReferralVersion.version)
    ):
        note = (
            app.vault.open_text(session, version, "note_enc", key_id=case.key_id) if version.note_enc else ""
        )
        out.append(
            {
                "version": version.version,
                "source": version.source,
                "by": version.created_by,
                "at": version.created_at,
                "note": note,
                "missing": len(version.missing_required),
            }
        )
    return out


@bp.route("/cases/<ref>/edit/<key>", methods=["GET", "POST"])
@requires("team")
def edit(ref: str, key: str) -> Any:
    app = mb()
    field = editing.editable(key)
    error = None
    with app.db.session() as session:
        row = case_or_403(session, ref)
        referral, _v = case_store.load_referral(session, app.vault, row)
        current = get_path(referral, key)
        if request.method == "POST":
            raw: Any = (
                request.form.getlist("value") if field.kind == "themes" else request.form.get("value", "")
            )
            try:
                editing.edit_field(
                    session,
                    app.vault,
                    row,
                    app.clock.now(),
                    key,
                    raw,
                    user=g.user.name,
                    reason=request.form.get("reason", ""),
                )
            except UsageError as exc:
                error = str(exc)
                session.rollback()
                current = raw
            else:
                flash(f"{field.label} saved as version {row.current_version} of {row.ref}.", "success")
                return redirect(url_for("cases.case", ref=row.ref) + f"#f-{key}")
        audit(
            session, app.clock.now(), g.user.name, "case.viewed", case_id=row.id, detail=f"edit form: {key}"
        )
        ref_shown = row.ref
    return render_template(
        "web/edit_field.html",
        ref=ref_shown,
        field=field,
        current=current,
        error=error,
        reason=request.form.get("reason", ""),
    ), (400 if error else 200)


@bp.route("/cases/<ref>/attachments/<att_id>")
@requires("team")
def attachment(ref: str, att_id: str) -> Any:
    app = mb()
    with app.db.session() as session:
        row = case_or_403(session, ref)
        att = session.get(Attachment, att_id)
        if att is None or att.case_id != row.id:
            abort(404)
        data = open_pieces(session, app.vault, att, "data_enc")
        filename = app.vault.open_text(session, att, "filename_enc")
        audit(session, app.clock.now(), g.user.name, "attachment.downloaded", case_id=row.id, detail=att.id)
    safe = re.sub(r"[^A-Za-z0-9._ -]", "_", filename).strip() or "attachment"
    response = Response(data, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


@bp.route("/cases/<ref>/merge", methods=["GET", "POST"])
@requires("team")
def merge(ref: str) -> Any:
    app = mb()
    error = None
    with app.db.session() as session:
        row = case_or_403(session, ref)
        if request.method == "POST":
            other_ref = request.form.get("other", "").strip().upper()
            try:
                other = case_store.case_by_ref(session, other_ref) if other_ref else None
                if other is None:
                    raise UsageError("enter the reference of the other case")
                editing.merge_cases(
                    session,
                    app.vault,
                    app.clock.now(),
                    row,
                    other,
                    user=g.user.name,
                    reason=request.form.get("reason", ""),
                )
            except (UsageError, NotFound) as exc:
                session.rollback()
                error = str(exc).replace("no case", "There is no case")
            else:
                flash(f"{other.ref} was merged into {row.ref} and closed.", "success")
                return redirect(url_for("cases.case", ref=row.ref))
        duplicates = case_store.possible_duplicates(session, row)
        ref_shown = row.ref
    return render_template(
        "web/merge.html", ref=ref_shown, duplicates=duplicates, error=error, form=request.form
    ), (400 if error else 200)


@bp.route("/cases/<ref>/split/<att_id>", methods=["GET", "POST"])
@requires("team")
def split(ref: str, att_id: str) -> Any:
    app = mb()
    error = None
    with app.db.session() as session:
        row = case_or_403(session, ref)
        att = session.get(Attachment, att_id)
        if att is None or att.case_id != row.id:
            abort(404)
        filename = app.vault.open_text(session, att, "filename_enc")
        if request.method == "GET":
            audit(
                session,
                app.clock.now(),
                g.user.name,
                "attachment.split_page_viewed",
                case_id=row.id,
                detail=f"attachment {att_id}",
            )
        if request.method == "POST":
            try:
                new = editing.split_case(
                    session,
                    app.vault,
                    app.clock.now(),
                    row,
                    att_id,
                    user=g.user.name,
                    reason=request.form.get("reason", ""),
                )
            except UsageError as exc:
                session.rollback()
                error = str(exc)
            else:
                flash(f"{new.ref} was opened from a file of {row.ref}.", "success")
                return redirect(url_for("cases.case", ref=new.ref))
        ref_shown = row.ref
    return render_template("web/split.html", ref=ref_shown, filename=filename, att_id=att_id, error=error), (
        400 if error else 200
    )


@bp.route("/cases/<ref>/close", methods=["POST"])
@requires("team")
def close(ref: str) -> Any:
    app = mb()
    with app.db.session() as session:
        row = case_or_403(session, ref)
        try:
            editing.close_case(
                session,
                app.vault,
                row,
                app.clock.now(),
                user=g.user.name,
                reason=request.form.get("reason", ""),
            )
        except UsageError as exc:
            session.rollback()
            flash(f"{row.ref} was not closed: {exc}.", "error")
        else:
            flash(f"{row.ref} is closed.", "success")
        return redirect(url_for("cases.case", ref=row.ref))
