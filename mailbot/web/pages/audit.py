"""The audit log: who read or changed what, and whether the chain is intact."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from mailbot.store.audit import verify_audit_chain
from mailbot.store.models import AuditEntry, Case
from mailbot.web.auth import mb, requires

bp = Blueprint("audit", __name__)


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
        intact = verify_audit_chain(session)
    return render_template("web/audit.html", entries=entries, ref=ref, intact=intact)
