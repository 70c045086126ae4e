"""The audit log: who read or changed what, filtered and paged, in plain words."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, render_template, request

from mailbot.clock import day_start, read_day
from mailbot.store.audit import check_audit_chain
from mailbot.store.audit_log import AuditFilter, count_entries, list_entries
from mailbot.web.auth import mb, requires

bp = Blueprint("audit", __name__)
PAGE_SIZE = 50


def _day(name: str, problems: list[str]) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return read_day(text)
    except ValueError:
        problems.append(f"'{text}' is not a date: use DD/MM/YYYY")
        return None


@bp.route("/audit")
@requires("team")
def audit_log() -> Any:
    app = mb()
    problems: list[str] = []
    ref = request.args.get("ref", "").strip().upper()
    user = request.args.get("user", "").strip()
    since, until = _day("from", problems), _day("to", problems)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    flt = AuditFilter(
        ref=ref or None,
        user=user or None,
        since=day_start(since) if since else None,
        until=day_start(until + timedelta(days=1)) if until else None,
    )
    with app.db.session() as session:
        total = count_entries(session, flt)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        entries = list_entries(session, flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        chain = check_audit_chain(session)
    query = {
        k: v
        for k, v in (
            ("ref", ref),
            ("user", user),
            ("from", request.args.get("from", "").strip()),
            ("to", request.args.get("to", "").strip()),
        )
        if v
    }
    return render_template(
        "web/audit.html",
        entries=entries,
        ref=ref,
        user=user,
        since=query.get("from", ""),
        until=query.get("to", ""),
        chain=chain,
        total=total,
        page=page,
        pages=pages,
        query=query,
        problems=problems,
    ), (400 if problems else 200)
