"""The annual report page: the year's figures, and the Word document to download.

Counts only (``mailbot.reports.annual``): the team may share this page and the document
with the partnership; each viewing and download is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, g, render_template, request

from mailbot.clock import london
from mailbot.reports.annual import ACTION_STATES, MONTHS, year_figures
from mailbot.store.audit import audit
from mailbot.web.auth import mb, requires

bp = Blueprint("report", __name__)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _year(text: str | None, default: int) -> int:
    if not text:
        return default
    if not text.isdigit() or not 2000 <= int(text) <= 2100:
        abort(404)
    return int(text)


@bp.route("/report")
@requires("team")
def index() -> Any:
    app = mb()
    now = app.clock.now()
    this_year = london(now).year
    year = _year(request.args.get("year"), this_year)
    with app.db.session() as session:
        figures = year_figures(session, app.vault, year, now)
        audit(session, now, g.user.name, "report.viewed", detail=str(year))
    return render_template(
        "web/report.html",
        f=figures,
        months=MONTHS,
        states=ACTION_STATES,
        years=list(range(this_year, this_year - 6, -1)),
    )


@bp.route("/report/<int:year>.docx")
@requires("team")
def download(year: int) -> Any:
    from mailbot.reports.annual_docx import build_report

    app = mb()
    now = app.clock.now()
    year = _year(str(year), year)
    with app.db.session() as session:
        figures = year_figures(session, app.vault, year, now)
        audit(session, now, g.user.name, "report.annual", detail=f"{year}, workspace")
    response = Response(build_report(figures), mimetype=DOCX)
    response.headers["Content-Disposition"] = f'attachment; filename="cscp-coc-{year}.docx"'
    return response
