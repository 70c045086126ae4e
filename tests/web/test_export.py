"""Trends and the queue export without personal data."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from flask.testing import FlaskClient
from helpers.privacy import scan
from openpyxl import load_workbook

from mailbot.app import App
from mailbot.web.pages.trends import COLUMNS


@pytest.fixture
def bot(seeded_bot: App) -> App:
    return seeded_bot


@pytest.mark.both_databases
def test_csv_export_has_the_queue_and_no_personal_data(team: FlaskClient) -> None:
    response = team.get("/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('cscp-queue-2026-10-12.csv"')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == COLUMNS
    assert [r[0] for r in rows[1:]] == [f"COC-2026-000{n}" for n in range(1, 6)]
    assert rows[1][2] == "Exampleton Primary School"
    assert "Neglect" in rows[1][11]
    assert scan(response.data) == []
    assert b"@" not in response.data  # no e-mail addresses either


@pytest.mark.both_databases
def test_xlsx_export_matches(team: FlaskClient) -> None:
    response = team.get("/export.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    sheet = book["Queue"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == COLUMNS and len(values) == 6
    text = "\n".join(str(v) for row in values for v in row if v is not None)
    assert scan(text.encode()) == []
    # Real dates (sortable, filterable), a filter row on the header, the header frozen.
    received = sheet["D2"]
    assert isinstance(received.value, datetime) and received.number_format == "DD/MM/YYYY"
    assert received.value.date() == date(2026, 10, 12)
    assert sheet.auto_filter.ref == "A1:M6" and sheet.freeze_panes == "A2"


@pytest.mark.both_databases
def test_formula_like_cells_are_neutralised(team: FlaskClient, bot: App) -> None:
    from helpers.workspace import post

    post(team, "/cases/COC-2026-0002/edit/referrer.agency", {"value": "=HYPERLINK(1)", "reason": "test"})
    rows = team.get("/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in rows


@pytest.mark.both_databases
def test_trends_page_and_charts(team: FlaskClient) -> None:
    page = team.get("/trends").get_data(as_text=True)
    assert "Themes over time" in page and "Referrals by agency" in page
    assert "Exampleton Primary School" in page
    for name in ("themes", "agencies", "decisions"):
        chart = team.get(f"/trends/{name}.svg")
        assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
        assert b"<svg" in chart.data
        assert scan(chart.data) == []
    assert team.get("/trends/nothing.svg").status_code == 404
