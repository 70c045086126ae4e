"""How long a search of 5,000 encrypted cases takes (issue 15: under 300 ms).

Three figures from the same run, on a real SQLite store of 5,000 cases:
- baseline: reading every case's id, reference and version (what each search reads);
- cold: the first search, which decrypts every case's searchable words once;
- warm: a search afterwards (median of several rounds, different queries), which
  decrypts nothing unless a case has a new version.
Run: ``python benchmarks/bench_search.py``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import local_app
from helpers.pack_cases import form_version
from sqlalchemy import select

from mailbot.app import build_app
from mailbot.cases import store as case_store
from mailbot.cases.search import SearchIndex
from mailbot.store.models import Case

FORMS = Path(__file__).resolve().parent.parent / "tests" / "data" / "forms"
CASES = 5000
QUERIES = (
    "amelia",
    "03/03/2015",
    "999 015 8398",
    "testington",
    "health visiting",
    "COC-2026-4321",
    "nobody at all",
    "zara khan",
)
FIRST = ("Amelia", "Noah", "Jaylen", "Zara", "Amélie", "Oliver", "Isla", "Muhammad")


def referrals() -> list[dict]:
    records = [json.loads(p.read_text()) for p in sorted(FORMS.glob("*.expected.json"))]
    return [r.get("referral", r) for r in records if "reject" not in r and "child" in r.get("referral", r)]


def store_with_cases(folder: Path) -> object:
    app = local_app(folder, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    source = referrals()
    now = app.clock.now()
    with app.db.session() as session:
        for n in range(CASES):
            referral = json.loads(json.dumps(source[n % len(source)]))
            referral["child"]["full_name"] = f"{FIRST[n % len(FIRST)]} Example{n}"
            version = form_version(referral, "bench")
            case_store.open_case(session, app.vault, now, f"bench{n}@example.org", version)
    return app


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = store_with_cases(Path(tmp))
        # A fresh vault, as a new process has: no data key unwrapped yet.
        app = build_app(app.settings, clock=app.clock)  # type: ignore[attr-defined]
        index = SearchIndex()
        with app.db.session() as session:
            start = time.perf_counter()
            session.execute(select(Case.id, Case.ref, Case.current_version)).all()
            baseline = time.perf_counter() - start
            start = time.perf_counter()
            index.search(session, app.vault, "amelia")
            cold = time.perf_counter() - start
            warm_times, hits = [], {}
            for _round in range(3):
                for query in QUERIES:
                    start = time.perf_counter()
                    hits[query] = len(index.search(session, app.vault, query))
                    warm_times.append(time.perf_counter() - start)
        app.close()
    warm = statistics.median(warm_times)
    print(f"search, {CASES} encrypted cases (SQLite)")
    print(f"  baseline: read ids and versions          {baseline * 1000:8.1f} ms")
    print(f"  cold: first search (decrypts every case) {cold * 1000:8.1f} ms")
    print(
        f"  warm: median of {len(warm_times)} searches            {warm * 1000:8.1f} ms"
        f"   (slowest {max(warm_times) * 1000:.1f} ms)"
    )
    print("  hits: " + ", ".join(f"{q!r}={n}" for q, n in hits.items()))


if __name__ == "__main__":
    main()
