"""Many distinct fictional referrals for agenda packs (tests and ``bench_agenda.py``).

Each is one of the form fixtures with a different child: name, date of birth, address,
identifiers, household and referrer, so that a pack of N cases holds N children and a
test can tell every case apart. Some variety a real meeting has: a child who died, a
blank household, a recorded decision, a field left empty. All names are invented.
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from mailbot.app import App
from mailbot.cases import store as case_store
from mailbot.sprg.decision_form import empty_decision
from mailbot.store.models import Decision

FORMS = Path(__file__).resolve().parent.parent / "data" / "forms"

FIRST = [
    "Ava", "Ben", "Cara", "Dev", "Ella", "Finn", "Gia", "Hari", "Isla", "Jude",
    "Kian", "Lila", "Milo", "Nia", "Omar", "Pia", "Quinn", "Rhea", "Sami", "Tia",
]  # fmt: skip
LAST = [
    "Exampleworth", "Mockridge", "Samplewell", "Testbury", "Fictonby",
    "Placeholme", "Specimore", "Dummington", "Pretendale", "Notrealson",
]  # fmt: skip
AGENCIES = [
    "Exampleton Primary School",
    "Sampleton NHS Foundation Trust",
    "Sample Police Safeguarding Unit",
    "Testbridge Youth Justice Service",
    "Placeholder Family Hub",
]


def form_version(referral: dict[str, Any], created_by: str, **kw: Any) -> case_store.VersionInput:
    """A referral read from a form, as a version to store: no provenance, fallbacks,
    missing fields or queries unless ``kw`` gives them (any other ``VersionInput`` field
    too). Free of pytest: ``bench_search.py`` (and ``bench_agenda.py`` through
    ``put_on_meeting``) use it as well."""
    fields: dict[str, Any] = {
        "provenance": {},
        "source": "form",
        "fallbacks": [],
        "missing": [],
        "queries": [],
    }
    fields.update(kw)
    return case_store.VersionInput(referral=referral, created_by=created_by, **fields)


def fixture_referrals() -> list[dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in sorted(FORMS.glob("*.expected.json"))]
    return [r for r in records if "reject" not in r]


def fictional_referral(n: int, sources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The n-th fictional referral (n from 0): every personal field differs from the others'."""
    sources = sources or fixture_referrals()
    r = copy.deepcopy(sources[n % len(sources)])
    first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
    name = f"{first} {last}-{n + 1:03d}"
    born = date(2010, 1, 5) + timedelta(days=37 * n)
    child = r.setdefault("child", {})
    child.update(
        full_name=name,
        dob=born.isoformat(),
        address=f"{n + 1} Imaginary Road\nCroydon\nCR0 9ZZ",
        nhs_number=f"999{n:07d}",
        crs_number=f"CRS-{n + 1:06d}",
    )
    child["dod"] = (born + timedelta(days=400)).isoformat() if n % 17 == 5 else None
    referrer = r.setdefault("referrer", {})
    referrer.update(
        name=f"Referrer {last} {n + 1}",
        agency=AGENCIES[n % len(AGENCIES)],
        email=f"referrer{n + 1}@agency.example.org",
    )
    r["referral_date"] = (date(2026, 9, 1) + timedelta(days=n % 60)).isoformat()
    if n % 9 == 4:
        r["household"] = []
    else:
        r["household"] = [
            {
                "name": f"Parent {last} {n + 1}",
                "relationship": "Mother",
                "gender": "Female",
                "dob": "1988-04-12",
            },
            {"name": f"Carer {last} {n + 1}", "relationship": "Stepfather", "gender": "Male", "dob": None},
        ]
    r["household_address"] = f"{n + 1} Imaginary Road, Croydon CR0 9ZZ"
    r["incident_details"] = f"Incident about {name} (case {n + 1}).\n\n" + (r.get("incident_details") or "")
    r["anticipated_learning"] = f"Learning for case {n + 1}.\n" + (r.get("anticipated_learning") or "")
    if n % 11 == 7:
        r["anticipated_learning"] = None
    return r


def fictional_referrals(count: int) -> list[dict[str, Any]]:
    sources = fixture_referrals()
    return [fictional_referral(n, sources) for n in range(count)]


def put_on_meeting(
    app: App, referrals: list[dict[str, Any]], meeting: date, *, decided_every: int = 10
) -> None:
    """Store the referrals as encrypted cases (COC-YYYY-0001 on) on ``meeting``; every
    ``decided_every``-th has a recorded decision (single agency: N, its grounds naming
    the case number) and is ``decided``."""
    now = app.clock.now()
    with app.db.session() as session:
        for n, referral in enumerate(referrals):
            version = form_version(referral, "test")
            case = case_store.open_case(session, app.vault, now, "referrer@example.org", version)
            case.status, case.meeting_date = "scheduled", meeting
            if n % decided_every == decided_every - 1:
                session.flush()
                decision = empty_decision()
                decision["outcome"]["single_agency"].update(decision="N", grounds=f"Grounds {n + 1}")
                row = Decision(case_id=case.id, seq=1, key_id=case.key_id, source="command")
                row.outcome_enc = app.vault.seal_json(
                    session, row, "outcome_enc", decision, key_id=case.key_id
                )
                row.recorded_at, row.recorded_by = now, "test"
                session.add(row)
                case.status = "decided"
