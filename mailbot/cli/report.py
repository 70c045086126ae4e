"""``report --year Y [--out FILE]``: the year's picture for the partnership's annual report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mailbot.cli.common import Command, actor, open_app
from mailbot.errors import UsageError


def add_parsers(sub: Any) -> dict[str, Command]:
    report = sub.add_parser("report", help="the year's figures as a Word document, with charts")
    report.add_argument("--year", type=int, required=True)
    report.add_argument(
        "--out", type=Path, metavar="FILE", help="where the .docx goes (default var/reports/annual-YEAR.docx)"
    )
    return {"report": cmd_report}


def cmd_report(args: argparse.Namespace, app: Any = None) -> int:
    from mailbot.reports.annual import year_figures
    from mailbot.reports.annual_docx import build_report
    from mailbot.store.audit import audit
    from mailbot.store.private_file import refuse_link, write_private

    if not 2000 <= args.year <= 2100:
        raise UsageError(f"--year: {args.year} is not a year this bot can have records for")
    own = app is None
    app = app or open_app(args)
    try:
        now = app.clock.now()
        with app.db.session() as session:
            figures = year_figures(session, app.vault, args.year, now)
            audit(session, now, actor(args), "report.annual", detail=str(args.year))
        out = args.out or app.settings.var_dir / "reports" / f"annual-{args.year}.docx"
        refuse_link(out, "--out")
        out.parent.mkdir(parents=True, exist_ok=True)
        written = write_private(out, build_report(figures))
    finally:
        if own:
            app.close()
    print(
        f"{args.year}: {figures.total_referrals} referrals, "
        f"{sum(figures.decisions.values())} decisions; report written: {written}"
    )
    return 0
