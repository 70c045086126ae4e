"""Trends (charts) and the export of the queue without personal data.

"Without personal data" means: the export carries the case reference, status, the
referring agency (an organisation), dates of the case's own steps, the themes ticked,
counts, and what the case waits for in the form's own labels. It never carries a name,
initials, date of birth or age, address, NHS/CRS/PNC number, free text from the form,
the referrer's name, role or e-mail address. Cells that a spreadsheet would read as a
formula are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from typing import Any

from flask import Blueprint, Response, g, render_template
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from mailbot.cases import store as case_store
from mailbot.cases.queue import annotated_queue
from mailbot.cases.referral import get_path
from mailbot.clock import london
from mailbot.store.audit import audit
from mailbot.store.models import Case
from mailbot.web import charts
from mailbot.web.auth import mb, requires

bp = Blueprint("trends", __name__)

COLUMNS = [
    "Reference",
    "Status",
    "Referring agency",
    "Received",
    "Ready",
    "Meeting",
    "Decided",
    "Closed",
    "Days waiting",
    "Waiting for",
    "Overdue",
    "Themes",
    "Possible duplicates",
]


def trend_data() -> charts.TrendData:
    app = mb()
    data = charts.TrendData()
    with app.db.session() as session:
        for case in session.scalars(select(Case).where(Case.shredded_at.is_(None)).order_by(Case.created_at)):
            referral, _row = case_store.load_referral(session, app.vault, case)
            month = charts.month_key(case.created_at)
            if month not in data.months:
                data.months.append(month)
            themes = referral.get("themes") or []
            data.themes_by_month.setdefault(month, Counter()).update(themes)
            data.theme_totals.update(themes)
            agency = (get_path(referral, "referrer.agency") or "").strip()
            data.agencies[agency or "Not given"] += 1
            if case.decided_at is not None:
                days = (london(case.decided_at).date() - london(case.created_at).date()).days
                data.decision_days.append((charts.month_key(case.decided_at), days))
    return data


@bp.route("/trends")
@requires("team")
def index() -> Any:
    data = trend_data()
    months = [(charts.month_label(m), data.themes_by_month.get(m, Counter())) for m in data.months]
    top = [t for t, _n in data.theme_totals.most_common(charts.TOP_THEMES)]
    decisions: dict[str, list[int]] = {}
    for month, days in data.decision_days:
        decisions.setdefault(charts.month_label(month), []).append(days)
    return render_template(
        "web/trends.html",
        months=months,
        top=top,
        data=data,
        decisions=[(m, len(v), sorted(v)[len(v) // 2]) for m, v in decisions.items()],
    )


@bp.route("/trends/<name>.svg")
@requires("team")
def chart(name: str) -> Any:
    draw = {
        "themes": charts.themes_chart,
        "agencies": charts.agencies_chart,
        "decisions": charts.decision_chart,
    }.get(name)
    if draw is None:
        return Response("not found", status=404)
    return Response(draw(trend_data()), mimetype="image/svg+xml")


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_rows() -> list[list[Any]]:
    app = mb()
    now = app.clock.now()
    rows = []
    with app.db.session() as session:
        items = annotated_queue(session, app.vault, app.settings, now)
        cases = {c.ref: c for c in session.scalars(select(Case))}
        audit(session, now, g.user.name, "queue.exported", detail=f"{len(items)} cases")
    for item in items:
        case = cases[item.ref]
        rows.append(
            [
                item.ref,
                item.status.heading,
                _safe(item.referring_agency or ""),
                _date(case.created_at),
                _date(case.ready_at),
                item.meeting_date,
                _date(case.decided_at),
                _date(case.closed_at),
                item.days_waiting,
                _safe(item.waiting_for),
                "yes" if item.overdue else "",
                "; ".join(item.themes),
                ", ".join(item.possible_duplicates),
            ]
        )
    return rows


def _date(moment: Any) -> date | None:
    """A step's day (Europe/London): a real date, written ISO in the CSV and as an Excel
    date (DD/MM/YYYY, sortable and filterable) in the workbook."""
    return london(moment).date() if moment else None


def _text(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _filename(ext: str) -> str:
    return f"cscp-queue-{london(mb().clock.now()).date().isoformat()}.{ext}"


@bp.route("/export.csv")
@requires("team")
def export_csv() -> Any:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows([_text(v) for v in row] for row in export_rows())
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


@bp.route("/export.xlsx")
@requires("team")
def export_xlsx() -> Any:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Queue"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in export_rows():
        sheet.append(row)
    for column in ("D", "E", "F", "G", "H"):  # the steps' dates: real dates, shown as here
        for cell in sheet[column][1:]:
            cell.number_format = "DD/MM/YYYY"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions  # the filter row on the header
    for column, width in zip(
        "ABCDEFGHIJKLM", (15, 20, 28, 12, 12, 12, 12, 12, 8, 40, 9, 40, 20), strict=True
    ):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    response = Response(
        buffer.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename("xlsx")}"'
    return response
