"""How long the SPRG agenda pack takes for a 100-case meeting.

Three figures from the same run, each the median of several rounds:
- baseline: python-docx opening its default template and saving an empty document;
- build: ``build_pack`` for 100 cases already in memory (the document itself);
- compile: the whole ``mailbot agenda`` path on a real SQLite store: 100 encrypted cases
  read and decrypted, the pack built and written to disk (no PDF);
and, once, the encrypted attachment (msoffcrypto agile encryption of that pack).
Run: ``python benchmarks/bench_agenda.py``.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import docx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbot.app import build_app  # noqa: E402
from mailbot.cases import store as case_store  # noqa: E402
from mailbot.clock import FixedClock  # noqa: E402
from mailbot.settings import load_settings  # noqa: E402
from mailbot.sprg.meeting_digest import encrypt_docx  # noqa: E402
from mailbot.sprg.pack import build_pack, write_pack  # noqa: E402
from mailbot.sprg.scheduling import PackCase, cases_of_meeting  # noqa: E402

FORMS = ROOT / "tests" / "data" / "forms"
CASES = 100
ROUNDS = 5
MEETING = date(2026, 12, 17)


def referrals() -> list[dict]:
    records = [json.loads(p.read_text()) for p in sorted(FORMS.glob("*.expected.json"))]
    return [r for r in records if "reject" not in r]


def timed(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def empty_document() -> None:
    document = docx.Document()
    document.save(io.BytesIO())


def store_with_cases(folder: Path) -> object:
    env = {
        "MAILBOT_DATABASE_URL": f"sqlite:///{folder / 'mailbot.db'}",
        "MAILBOT_KEY_FILE": str(folder / "master.key"),
        "MAILBOT_SPRG_MEETINGS": MEETING.isoformat(),
    }
    app = build_app(
        load_settings(env=env, base_dir=folder), clock=FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    )
    app.prepare()
    source = referrals()
    now = app.clock.now()
    with app.db.session() as session:
        for n in range(CASES):
            version = case_store.VersionInput(
                referral=source[n % len(source)],
                provenance={},
                source="form",
                fallbacks=[],
                missing=[],
                queries=[],
                created_by="bench",
            )
            case = case_store.open_case(session, app.vault, now, "bench@example.org", version)
            case.status, case.meeting_date = "scheduled", MEETING
    return app


def main() -> None:
    source = referrals()
    in_memory = [
        PackCase(f"COC-2026-{n + 1:04d}", "scheduled", source[n % len(source)]) for n in range(CASES)
    ]
    baseline = timed(empty_document)
    build = timed(lambda: build_pack(MEETING, in_memory, chair="Chair", compiled_on=MEETING))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = store_with_cases(folder)

        def compile_pack() -> None:
            with app.db.session() as session:  # type: ignore[attr-defined]
                cases = cases_of_meeting(session, app.vault, MEETING)  # type: ignore[attr-defined]
            data = build_pack(MEETING, cases, chair="Chair", compiled_on=MEETING)
            write_pack(folder / "out", data, pdf=False)

        compiled = timed(compile_pack)
        size = (folder / "out" / "agenda.docx").stat().st_size
        pack = build_pack(MEETING, in_memory, chair="Chair", compiled_on=MEETING)
        encrypt = timed(lambda: encrypt_docx(pack, "benchmark password"), rounds=1)
        app.close()  # type: ignore[attr-defined]
    print(f"agenda pack, {CASES} cases (median of {ROUNDS} rounds)")
    print(f"  baseline: python-docx empty document      {baseline * 1000:8.1f} ms")
    print(f"  build_pack, cases in memory               {build * 1000:8.1f} ms")
    print(
        f"  mailbot agenda path (decrypt+build+write) {compiled * 1000:8.1f} ms"
        f"   ({size / 1024:.0f} KiB .docx)"
    )
    print(f"  encrypting the pack for the digest        {encrypt * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
