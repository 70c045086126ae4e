"""How fast and how accurately the form reader reads the fixtures.

Parse time per Word form (median, p95) against python-docx merely opening the same
file (measured in the same run), parse time per PDF, and field-level accuracy: the
share of expected fields reproduced exactly (free text after collapsing whitespace).
Run: ``python benchmarks/bench_forms.py``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_forms_fixtures import comparable, flatten  # noqa: E402

from mailbot.forms import read_form_bytes  # noqa: E402

DATA = ROOT / "tests" / "data" / "forms"
ROUNDS = 20


def timings(action: Callable[[], object], rounds: int = ROUNDS) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def accuracy(paths: list[Path]) -> tuple[int, int]:
    right = total = 0
    for path in paths:
        expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
        form = read_form_bytes(path.read_bytes(), reference_year=2026)
        got = flatten(dict(form.referral, missing_required=form.missing_required))
        for key, want in flatten(expected).items():
            total += 1
            right += comparable(key, want) == comparable(key, got.get(key))
    return right, total


def main() -> None:
    forms = sorted(p for p in DATA.glob("coc-*") if p.with_name(p.stem + ".expected.json").exists())
    words = [p for p in forms if p.suffix == ".docx"]
    pdfs = [p for p in forms if p.suffix == ".pdf"]
    ours, base = [], []
    for path in words:
        data = path.read_bytes()
        ours += timings(lambda d=data: read_form_bytes(d, reference_year=2026))
        base += timings(lambda p=path: docx.Document(str(p)))
    pdf_times = []
    for path in pdfs:
        data = path.read_bytes()
        pdf_times += timings(lambda d=data: read_form_bytes(d, reference_year=2026), 5)
    right, total = accuracy(forms)
    print(f"Word forms ({len(words)} files x {ROUNDS}):")
    print(f"  mailbot parse    median {statistics.median(ours):6.2f} ms  p95 {p95(ours):6.2f} ms")
    print(f"  python-docx open median {statistics.median(base):6.2f} ms  p95 {p95(base):6.2f} ms")
    print(
        f"  ratio (median parse / median python-docx open): "
        f"{statistics.median(ours) / statistics.median(base):.2f}"
    )
    print(f"PDF forms ({len(pdfs)} files x 5):")
    print(f"  mailbot parse    median {statistics.median(pdf_times):6.1f} ms  p95 {p95(pdf_times):6.1f} ms")
    print(f"Field accuracy: {right}/{total} = {100 * right / total:.1f}% over {len(forms)} forms")


if __name__ == "__main__":
    main()
