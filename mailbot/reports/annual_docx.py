"""The year's picture as a Word document the partnership can drop into its annual report.

Tables and charts (matplotlib, drawn to PNG in memory) of ``YearFigures``: organisations,
themes, dates and counts, never a person. matplotlib is imported here, lazily, only when
a report is made, so no other command pays for it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

from mailbot.reports.annual import ACTION_STATES, MONTHS, YearFigures

TITLE = "Case of Concern reviews"
PARTNERSHIP = "Croydon Safeguarding Children Partnership"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: before pyplot is imported
    import matplotlib.pyplot as plt

    return plt


def _png(draw: Any, height: float = 3.2) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, height), dpi=150)
    try:
        draw(ax)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", metadata={"Software": None})
        return out.getvalue()
    finally:
        plt.close(fig)


def _table(doc: Any, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Light Grid Accent 1"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = str(text)
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = str(value)
    doc.add_paragraph()


def _chart(doc: Any, png: bytes, caption: str) -> None:
    doc.add_picture(io.BytesIO(png), width=Cm(15))
    para = doc.add_paragraph(caption)
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    para.runs[0].italic = True


def _days(value: float | None) -> str:
    if value is None:
        return "no decisions"
    return f"{value:g} working day{'' if value == 1 else 's'}"


def build_report(figures: YearFigures) -> bytes:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(11)
    doc.core_properties.title = f"{TITLE} {figures.year}"
    doc.core_properties.author = PARTNERSHIP
    doc.add_heading(f"{TITLE}: {figures.year}", level=0)
    doc.add_paragraph(
        f"{PARTNERSHIP}. Figures for 1 January to 31 December {figures.year}, "
        f"as recorded on {figures.made_on.day} {figures.made_on:%B %Y}. "
        "Counts only: the report names no child, family member or "
        "professional. Time is counted in working days in England."
    )
    _referrals(doc, figures)
    _decisions(doc, figures)
    _themes(doc, figures)
    _clocks(doc, figures)
    _actions(doc, figures)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _referrals(doc: Any, f: YearFigures) -> None:
    doc.add_heading("Referrals received", level=1)
    doc.add_paragraph(
        f"{f.total_referrals} referral{'s' if f.total_referrals != 1 else ''} were received in {f.year}."
    )
    rows = [[agency, *months, sum(months)] for agency, months in f.referrals.items()]
    rows.append(["All agencies", *f.by_month, f.total_referrals])
    _table(doc, ["Referring agency", *MONTHS, "Total"], rows)
    _chart(
        doc,
        _png(lambda ax: (ax.bar(MONTHS, f.by_month, color="#1f3864"), ax.set_ylabel("Referrals"))),
        f"Referrals received by month, {f.year}",
    )


def _decisions(doc: Any, f: YearFigures) -> None:
    doc.add_heading("SPRG decisions", level=1)
    _table(doc, ["Decision", "Cases"], list(f.decisions.items()))
    doc.add_paragraph(
        f"Time from referral to decision: median {_days(f.median_days)}, "
        f"90th percentile {_days(f.p90_days)} "
        f"({len(f.to_decision)} decision{'s' if len(f.to_decision) != 1 else ''})."
    )
    labels = ["Single-agency", "Multi-agency", "None"]
    _chart(
        doc,
        _png(
            lambda ax: (ax.bar(labels, list(f.decisions.values()), color="#2e75b6"), ax.set_ylabel("Cases")),
            height=2.8,
        ),
        f"SPRG decisions, {f.year}",
    )


def _themes(doc: Any, f: YearFigures) -> None:
    doc.add_heading("Themes", level=1)
    if not f.themes:
        doc.add_paragraph("No themes were recorded.")
        return
    _table(doc, ["Theme", "Referrals"], f.themes)
    names = [name for name, _n in reversed(f.themes)]
    counts = [n for _name, n in reversed(f.themes)]
    _chart(
        doc,
        _png(
            lambda ax: (ax.barh(names, counts, color="#548235"), ax.set_xlabel("Referrals")),
            height=max(2.4, 0.35 * len(names) + 1),
        ),
        f"Themes of the referrals, {f.year}",
    )


def _clocks(doc: Any, f: YearFigures) -> None:
    doc.add_heading("Serious incidents", level=1)
    if not f.clocks:
        doc.add_paragraph("No serious incidents were recorded.")
        return
    doc.add_paragraph(
        "Panel notification within 5 working days of becoming aware; rapid "
        "review within 15 working days of the notification (Working Together "
        "to Safeguard Children 2023)."
    )
    _table(
        doc,
        ["Clock", "Met", "Missed", "Still running"],
        [[name, c["met"], c["missed"], c["running"]] for name, c in f.clocks.items()],
    )


def _actions(doc: Any, f: YearFigures) -> None:
    doc.add_heading("Actions from SPRG decisions", level=1)
    if not f.actions:
        doc.add_paragraph("No actions were set.")
        return
    headers = ["Agency", *(s.capitalize() for s in ACTION_STATES), "Total"]
    _table(
        doc,
        headers,
        [[agency, *(c[s] for s in ACTION_STATES), sum(c.values())] for agency, c in f.actions.items()],
    )
    agencies = list(f.actions)
    colours = {"open": "#9dc3e6", "overdue": "#c00000", "done": "#548235", "carried forward": "#bfbfbf"}

    def draw(ax: Any) -> None:
        left = [0] * len(agencies)
        for state in ACTION_STATES:
            values = [f.actions[a][state] for a in agencies]
            ax.barh(agencies, values, left=left, label=state.capitalize(), color=colours[state])
            left = [x + y for x, y in zip(left, values, strict=True)]
        ax.set_xlabel("Actions")
        ax.legend(frameon=False, fontsize=8)

    _chart(
        doc, _png(draw, height=max(2.4, 0.45 * len(agencies) + 1.2)), f"Actions set in {f.year}, by agency"
    )
