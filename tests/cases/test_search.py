"""Finding a case by what a caller says: parts of names, dates, numbers, accents folded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.workspace import seeded_app

from mailbot.app import App
from mailbot.cases.editing import edit_field
from mailbot.cases.search import SearchIndex, as_date, document, fold
from mailbot.cases.store import case_by_ref
from mailbot.clock import FixedClock


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> App:
    clock = FixedClock(datetime(2026, 10, 12, 9, 15, tzinfo=UTC))
    app = seeded_app(Path(tmp_path_factory.mktemp("search")), clock)
    yield app
    app.close()


def find(bot: App, query: str, index: SearchIndex | None = None) -> list[str]:
    with bot.db.session() as session:
        return (index or SearchIndex()).search(session, bot.vault, query)


def test_folding_and_dates() -> None:
    assert fold("  AMÉLIE  Łódź-O'Brien ") == "amelie łodz-o'brien"
    assert fold("Zoë Ångström") == "zoe angstrom"
    assert as_date("03/03/2015") == as_date("2015-03-03") == as_date("3.3.2015")
    assert as_date("31/02/2015") is None and as_date("amelia") is None
    doc = document(
        "COC-2026-0009",
        {"child": {"full_name": "Amélie Zoë Brontë", "dob": "2015-03-03", "nhs_number": "999 015 8398"}},
    )
    assert doc.matches("amelie") and doc.matches("BRONTE zoe") and doc.matches("Zoë")
    assert doc.matches("03/03/2015") and doc.matches("9990158398") and doc.matches("999-015-8398")
    assert not doc.matches("amelie 04/03/2015") and not doc.matches("amelia")


@pytest.mark.parametrize(
    ("query", "refs"),
    [
        ("amelia", ["COC-2026-0001"]),
        ("AMÉLIA exampleby", ["COC-2026-0001"]),
        ("rose", ["COC-2026-0001"]),
        ("03/03/2015", ["COC-2026-0001"]),
        ("2010-07-14", ["COC-2026-0004"]),
        ("999 015 8398", ["COC-2026-0001"]),
        ("crs-118240", ["COC-2026-0004"]),
        ("24/0012345X", ["COC-2026-0004"]),
        ("Testington", ["COC-2026-0001"]),
        ("tomasz.placeholderski@nhs-sample", ["COC-2026-0002"]),
        ("nhs-sample.example.net", ["COC-2026-0002", "COC-2026-0005"]),
        ("health visiting", ["COC-2026-0002"]),
        ("COC-2026-0004", ["COC-2026-0004"]),
        ("0005", ["COC-2026-0005"]),
        ("nobody at all", []),
    ],
)
def test_each_way_a_caller_names_a_case(bot: App, query: str, refs: list[str]) -> None:
    assert find(bot, query) == refs


def test_the_cache_follows_each_new_version(bot: App) -> None:
    index = SearchIndex()
    assert find(bot, "noah", index) == ["COC-2026-0002"]
    with bot.db.session() as session:
        case = case_by_ref(session, "COC-2026-0002")
        edit_field(
            session,
            bot.vault,
            case,
            bot.clock.now(),
            "child.full_name",
            "Noé Smithson",
            user="tess.team",
            reason="spelling",
        )
    assert find(bot, "noah", index) == []
    assert find(bot, "noe smithson", index) == ["COC-2026-0002"]
    # Warm, nothing is decrypted again: the cache holds one entry per case.
    assert len(index._docs) == 5
