"""Trend charts drawn server-side with matplotlib (Agg backend, SVG out).

Inputs are plain counts (no personal data reaches a chart): referrals per month and
theme, per referring agency, and days from receipt to decision. Each chart comes with
its numbers as a table on the page, for people who cannot see the picture.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display; must come before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from mailbot.clock import london  # noqa: E402

# Colour-blind-safe palette (Okabe-Ito), dark enough on white for text and bars.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"]
TOP_THEMES = 6
TOP_AGENCIES = 12


@dataclass
class TrendData:
    months: list[str] = field(default_factory=list)
    themes_by_month: dict[str, Counter[str]] = field(default_factory=dict)
    theme_totals: Counter[str] = field(default_factory=Counter)
    agencies: Counter[str] = field(default_factory=Counter)
    decision_days: list[tuple[str, int]] = field(default_factory=list)


def month_key(moment: datetime) -> str:
    return f"{london(moment):%Y-%m}"


def month_label(key: str) -> str:
    return datetime.strptime(key, "%Y-%m").strftime("%b %Y")


def _figure(height: float = 3.6) -> Figure:
    fig = plt.figure(figsize=(8, height), dpi=96)
    fig.patch.set_facecolor("white")
    return fig


def _svg(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def _empty(text: str) -> bytes:
    fig = _figure(1.2)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="#374151")
    return _svg(fig)


def themes_chart(data: TrendData) -> bytes:
    if not data.theme_totals:
        return _empty("No themes recorded yet")
    top = [t for t, _n in data.theme_totals.most_common(TOP_THEMES)]
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    x = range(len(data.months))
    if len(data.months) < 3:  # too few months for a line: bars side by side
        width = 0.8 / len(top)
        for i, theme in enumerate(top):
            ax.bar(
                [p + i * width - 0.4 + width / 2 for p in x],
                [data.themes_by_month.get(m, Counter())[theme] for m in data.months],
                width=width,
                color=PALETTE[i % len(PALETTE)],
                label=theme,
            )
    else:
        for i, theme in enumerate(top):
            ax.plot(
                list(x),
                [data.themes_by_month.get(m, Counter())[theme] for m in data.months],
                marker="os^Dvx<>"[i % 8],
                color=PALETTE[i % len(PALETTE)],
                linewidth=2,
                label=theme,
            )
    ax.set_xticks(list(x), [month_label(m) for m in data.months], rotation=0, fontsize=9)
    ax.set_ylabel("Referrals")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#e5e7eb")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
    return _svg(fig)


def agencies_chart(data: TrendData) -> bytes:
    if not data.agencies:
        return _empty("No referrals yet")
    items = data.agencies.most_common(TOP_AGENCIES)[::-1]
    fig = _figure(max(1.8, 0.4 * len(items) + 0.8))
    ax = fig.add_subplot(1, 1, 1)
    bars = ax.barh([a for a, _n in items], [n for _a, n in items], color=PALETTE[0])
    ax.bar_label(bars, padding=3, fontsize=9)
    ax.set_xlabel("Referrals")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="y", labelsize=9)
    return _svg(fig)


def decision_chart(data: TrendData) -> bytes:
    if not data.decision_days:
        return _empty("No decisions recorded yet")
    by_month: dict[str, list[int]] = {}
    for month, days in data.decision_days:
        by_month.setdefault(month, []).append(days)
    months = sorted(by_month)
    medians = [sorted(v)[len(v) // 2] for v in (by_month[m] for m in months)]
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    bars = ax.bar([month_label(m) for m in months], medians, color=PALETTE[2])
    ax.bar_label(bars, padding=2, fontsize=9)
    ax.set_ylabel("Days (median)")
    ax.set_ylim(bottom=0, top=max(1, *medians) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Month of decision")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)
