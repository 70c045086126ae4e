"""The team's pages: the queue, a case, its edits, its files, the quarantine, the audit log."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from mailbot.cases import editing, views
from mailbot.cases import store as case_store
from mailbot.cases.referral import get_path
from mailbot.errors import NotFound, UsageError
from mailbot.intake.release import reject, release
from mailbot.jobs.morning import annotated_queue
from mailbot.store.models import Attachment, AuditEntry, Case, InboundMessage, ReferralVersion
from mailbot.web import present
from mailbot.web.auth import may_read_case, mb, requires
from mailbot.web.pages.meetings import upcoming_meetings

bp = Blueprint("cases", __name__)

SORTS = {"oldest": "Waiting longest first", "newest": "Waiting shortest first",
         "ref": "Reference"}
OPEN = ("awaiting_information", "manual_entry", "ready", "scheduled", "held", "decided")


def filtered_queue(status: str, meeting: str, sort: str) -> list[dict[str, Any]]:
    app = mb()
    with app.db.session() as session:
        items = annotated_queue(session, app, app.clock.now())
    if status == "open":
        items = [i for i in items if i["status"] in OPEN]
    elif status:
        items = [i for i in items if i["status"] == status]
    if meeting == "none":
        items = [i for i in items if not i["meeting_date"]]
    elif meeting:
        items = [i for i in items if i["meeting_date"] == meeting]
    if sort == "ref":
        items.sort(key=lambda i: i["ref"])
    else:
        items.sort(key=lambda i: (i["days_waiting"], i["received_at"] or ""),
                   reverse=sort != "newest")
    return items


@bp.route("/queue")
@requires("team")
def queue() -> Any:
    status = request.args.get("status", "open")
    meeting = request.args.get("meeting", "")
    sort = request.args.get("sort", "oldest")
    if sort not in SORTS:
        sort = "oldest"
    items = filtered_queue(status, meeting, sort)
    app = mb()
    with app.db.session() as session:
        meetings = sorted({d for d in session.scalars(select(Case.meeting_date)) if d})
        held = len(views.quarantine(session, app.vault))
    return render_template("web/queue.html", items=items, status=status, meeting=meeting,
                           sort=sort, sorts=SORTS, meetings=meetings, held=held,
                           overdue=sum(1 for i in items if i["overdue"]))


def _case_or_403(session: Any, ref: str) -> Case:
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
        row = _case_or_403(session, ref)
        item = views.show(session, app.vault, row.ref, from_address=app.settings.mail_from)
        history = _history(session, row)
        held = [m for m in item["messages"] if m["direction"] == "in"
                and m["kind"] == "quarantine" and _pending(session, m["id"])]
        case_store.audit(session, now, g.user.name, "case.viewed", case_id=row.id,
                         detail="workspace")
        closed_reason = (app.vault.open_text(session, row, "close_reason_enc")
                         if row.close_reason_enc else None)
    return render_template("web/case.html", item=item, form=present.layout(item),
                           history=history, held=held, closed_reason=closed_reason,
                           kind_words=present.KIND_WORDS, team=g.user.role == "team",
                           editable_keys=_editable_keys(item), label=views.short_label,
                           upcoming=upcoming_meetings() if g.user.role == "team" else [])


def _editable_keys(item: dict[str, Any]) -> set[str]:
    keys = {k for _t, ks in present.SECTIONS for k in ks} | set(present.QUESTIONS)
    return keys | {"themes", "household_address"}


def _pending(session: Any, row_id: str) -> bool:
    row = session.get(InboundMessage, row_id)
    return row is not None and row.hold_state == "pending"


def _history(session: Any, case: Case) -> list[dict[str, Any]]:
    app = mb()
    out = []
    for version in session.scalars(select(ReferralVersion).where(
            ReferralVersion.case_id == case.id).order_by(ReferralVersion.version)):
        note = (app.vault.open_text(session, version, "note_enc", key_id=case.key_id)
                if version.note_enc else "")
        out.append({"version": version.version, "source": version.source,
                    "by": version.created_by, "at": version.created_at, "note": note,
                    "missing": len(version.missing_required)})
    return out


@bp.route("/cases/<ref>/edit/<key>", methods=["GET", "POST"])
@requires("team")
def edit(ref: str, key: str) -> Any:
    app = mb()
    field = editing.editable(key)
    error = None
    with app.db.session() as session:
        row = _case_or_403(session, ref)
        referral, _v = case_store.load_referral(session, app.vault, row)
        current = get_path(referral, key)
        if request.method == "POST":
            raw: Any = (request.form.getlist("value") if field.kind == "themes"
                        else request.form.get("value", ""))
            try:
                editing.edit_field(session, app.vault, row, app.clock.now(), key, raw,
                                   user=g.user.name, reason=request.form.get("reason", ""))
            except UsageError as exc:
                error = str(exc)
                session.rollback()
                current = raw
            else:
                flash(f"{field.label} saved as version {row.current_version} of {row.ref}.",
                      "success")
                return redirect(url_for("cases.case", ref=row.ref) + f"#f-{key}")
        case_store.audit(session, app.clock.now(), g.user.name, "case.viewed", case_id=row.id,
                         detail=f"edit form: {key}")
        ref_shown = row.ref
    return render_template("web/edit_field.html", ref=ref_shown, field=field, current=current,
                           error=error, reason=request.form.get("reason", "")), \
        (400 if error else 200)


@bp.route("/cases/<ref>/attachments/<att_id>")
@requires("team")
def attachment(ref: str, att_id: str) -> Any:
    app = mb()
    with app.db.session() as session:
        row = _case_or_403(session, ref)
        att = session.get(Attachment, att_id)
        if att is None or att.case_id != row.id:
            abort(404)
        data = app.vault.open(session, att, "data_enc")
        filename = app.vault.open_text(session, att, "filename_enc")
        case_store.audit(session, app.clock.now(), g.user.name, "attachment.downloaded",
                         case_id=row.id, detail=att.id)
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
        row = _case_or_403(session, ref)
        if request.method == "POST":
            other_ref = request.form.get("other", "").strip().upper()
            try:
                other = case_store.case_by_ref(session, other_ref) if other_ref else None
                if other is None:
                    raise UsageError("enter the reference of the other case")
                editing.merge_cases(session, app.vault, app.clock.now(), row, other,
                                    user=g.user.name, reason=request.form.get("reason", ""))
            except (UsageError, NotFound) as exc:
                session.rollback()
                error = str(exc).replace("no case", "There is no case")
            else:
                flash(f"{other.ref} was merged into {row.ref} and closed.", "success")
                return redirect(url_for("cases.case", ref=row.ref))
        duplicates = case_store.possible_duplicates(session, row)
        ref_shown = row.ref
    return render_template("web/merge.html", ref=ref_shown, duplicates=duplicates, error=error,
                           form=request.form), (400 if error else 200)


@bp.route("/cases/<ref>/split/<att_id>", methods=["GET", "POST"])
@requires("team")
def split(ref: str, att_id: str) -> Any:
    app = mb()
    error = None
    with app.db.session() as session:
        row = _case_or_403(session, ref)
        att = session.get(Attachment, att_id)
        if att is None or att.case_id != row.id:
            abort(404)
        filename = app.vault.open_text(session, att, "filename_enc")
        if request.method == "POST":
            try:
                new = editing.split_case(session, app.vault, app.clock.now(), row, att_id,
                                         user=g.user.name, reason=request.form.get("reason", ""))
            except UsageError as exc:
                session.rollback()
                error = str(exc)
            else:
                flash(f"{new.ref} was opened from a file of {row.ref}.", "success")
                return redirect(url_for("cases.case", ref=new.ref))
        ref_shown = row.ref
    return render_template("web/split.html", ref=ref_shown, filename=filename, att_id=att_id,
                           error=error), (400 if error else 200)


@bp.route("/cases/<ref>/close", methods=["POST"])
@requires("team")
def close(ref: str) -> Any:
    app = mb()
    with app.db.session() as session:
        row = _case_or_403(session, ref)
        try:
            editing.close_case(session, app.vault, row, app.clock.now(), user=g.user.name,
                               reason=request.form.get("reason", ""))
        except UsageError as exc:
            session.rollback()
            flash(f"{row.ref} was not closed: {exc}.", "error")
        else:
            flash(f"{row.ref} is closed.", "success")
        return redirect(url_for("cases.case", ref=row.ref))


@bp.route("/quarantine")
@requires("team")
def quarantine() -> Any:
    app = mb()
    with app.db.session() as session:
        items = views.quarantine(session, app.vault)
        for item in items:
            item["linked"] = _linked_ref(session, item["id"])
    return render_template("web/quarantine.html", items=items)


def _linked_ref(session: Any, row_id: str) -> str | None:
    row = session.get(InboundMessage, row_id)
    if row is None or row.linked_case_id is None:
        return None
    case = session.get(Case, row.linked_case_id)
    return case.ref if case else None


@bp.route("/quarantine/<row_id>/release", methods=["POST"])
@requires("team")
def release_held(row_id: str) -> Any:
    try:
        refs = release(mb(), row_id, actor=g.user.name)
    except (UsageError, NotFound) as exc:
        flash(f"The message was not released: {exc}.", "error")
    else:
        flash("The message was released" + (f" and added to {', '.join(refs)}" if refs else "")
              + ". Any reply goes out with the next poll.", "success")
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
    return url_for("cases.quarantine")


@bp.route("/audit")
@requires("team")
def audit_log() -> Any:
    app = mb()
    ref = request.args.get("ref", "").strip().upper()
    with app.db.session() as session:
        stmt = select(AuditEntry, Case.ref).outerjoin(Case, Case.id == AuditEntry.case_id)
        if ref:
            stmt = stmt.where(Case.ref == ref)
        rows = session.execute(stmt.order_by(AuditEntry.id.desc()).limit(300)).all()
        entries = [{"at": e.at, "actor": e.actor, "action": e.action, "ref": r,
                    "detail": e.detail} for e, r in rows]
        intact = case_store.verify_audit_chain(session)
    return render_template("web/audit.html", entries=entries, ref=ref, intact=intact)
