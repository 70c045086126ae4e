"""Finding a case when a referrer phones: by reference, child, referrer, agency or number.

The records are encrypted, so the database cannot search them. Each case's searchable
words are decrypted once and kept in memory, keyed by the case's id and current version
(a change makes a new version, so an entry never goes stale); a search then reads only
the ids and versions from the database and matches in memory. For the partnership's
volume (hundreds of cases a year, 5,000 measured in ``benchmarks/bench_search.py``) this
answers in milliseconds once warm, and matches any part of a name, which a blind index
of keyed hashes could only do by storing a hash per fragment (README, "Search").

Matching folds case and accents (Unicode NFKD without combining marks, then casefold),
so "amelie" finds "Amélie"; every word of the query must be found. A date
(``DD/MM/YYYY`` or ISO) matches the child's date of birth; a number matches the NHS,
CRS or PNC number ignoring spaces, dashes and slashes.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.cases.referral import get_path
from mailbot.cases.store import load_referral
from mailbot.errors import CryptoError
from mailbot.store.models import Case
from mailbot.store.vault import Vault

#: What a search looks at (FIELDS.md keys), besides the reference.
FIELDS = (
    "child.full_name",
    "child.dob",
    "referrer.name",
    "referrer.email",
    "referrer.agency",
    "child.nhs_number",
    "child.crs_number",
    "child.pnc_number",
)
NUMBERS = ("child.nhs_number", "child.crs_number", "child.pnc_number")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_COMPACT = re.compile(r"[\s/\-.]+")


def fold(text: str) -> str:
    """Lower case without accents, whitespace collapsed: how both sides are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def as_date(text: str) -> date | None:
    """``DD/MM/YYYY`` (also with dots or dashes) or ISO ``YYYY-MM-DD``; else None."""
    text = text.strip()
    match = _DMY.match(text)
    try:
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class SearchDoc:
    """One case's searchable words (decrypted: kept in this process's memory only)."""

    ref: str
    text: str
    dob: str
    numbers: frozenset[str]

    def matches(self, query: str | Query) -> bool:
        q = query if isinstance(query, Query) else Query.of(query)
        if q.whole_date is not None:
            return self.dob == q.whole_date
        if q.number and q.number in self.numbers:
            return True
        for word, day in q.words:
            if day is not None:
                if self.dob != day:
                    return False
            elif word not in self.text:
                return False
        return True


@dataclass(frozen=True)
class Query:
    """The query read once: a whole date, a number, and each word (a date or text)."""

    whole_date: str | None
    number: str
    words: tuple[tuple[str, str | None], ...]

    @classmethod
    def of(cls, text: str) -> Query:
        whole = as_date(text)
        compact = _COMPACT.sub("", fold(text))
        words = []
        for word in fold(text).split():
            day = as_date(word)
            words.append((word, day.isoformat() if day else None))
        return cls(
            whole_date=whole.isoformat() if whole else None,
            number=compact if any(ch.isdigit() for ch in compact) else "",
            words=tuple(words),
        )


def document(ref: str, referral: dict[str, object]) -> SearchDoc:
    values = {key: get_path(referral, key) for key in FIELDS}
    dob = str(values["child.dob"] or "")
    numbers = frozenset(_COMPACT.sub("", fold(str(values[k]))) for k in NUMBERS if values[k])
    text = " | ".join(fold(str(v)) for v in (ref, *values.values()) if v)
    return SearchDoc(ref=ref, text=text, dob=dob, numbers=numbers)


class SearchIndex:
    """The decrypt-once cache behind every search; one per process, safe across threads."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[int, SearchDoc]] = {}
        self._lock = threading.Lock()

    def search(self, session: Session, vault: Vault, query: str) -> list[str]:
        """The references of the cases matching ``query``, oldest first."""
        if not query.strip():
            return []
        rows = session.execute(
            select(Case.id, Case.ref, Case.current_version).order_by(Case.created_at, Case.ref)
        ).all()
        parsed = Query.of(query)
        with self._lock:
            cached = dict(self._docs)
        found: list[str] = []
        for case_id, ref, version in rows:
            hit = cached.get(case_id)
            doc = (
                hit[1]
                if hit is not None and hit[0] == version
                else self._doc(session, vault, case_id, version)
            )
            if doc is not None and doc.matches(parsed):
                found.append(ref)
        return found

    def _doc(self, session: Session, vault: Vault, case_id: str, version: int) -> SearchDoc | None:
        case = session.get(Case, case_id)
        if case is None or case.current_version != version:
            return None
        try:
            referral, _row = load_referral(session, vault, case)
        except CryptoError:  # an erased case (its key destroyed) has nothing to find
            return None
        doc = document(case.ref, referral)
        with self._lock:
            self._docs[case_id] = (version, doc)
        return doc

    def warm(self, session: Session, vault: Vault) -> int:
        """Decrypt every case's words now (``mailbot serve`` does it at start, in the
        background), so the first search is as quick as the rest; returns the count."""
        rows = session.execute(select(Case.id, Case.current_version)).all()
        return sum(self._doc(session, vault, case_id, version) is not None for case_id, version in rows)

    def forget(self) -> None:
        """Drop every decrypted entry (e.g. after a key rotation or an erasure)."""
        with self._lock:
            self._docs.clear()
