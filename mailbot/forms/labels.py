"""Label matching done once per document: every label of the form in one table.

``text.label_matches`` compares one cell with one label; asked for every cell against
every label of the form that is thousands of comparisons per document.  Here each
distinct cell text is looked up once: its word prefixes are looked up in a set of all
the form's labels (normalised), and the labels it matches are kept, as an exact match
(or a long label's prefix: what ``label_matches`` accepts without ``prefix``) and as a
prefix.  The answers are the same as ``label_matches`` gives, label by label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from mailbot.forms.description import FormDescription
from mailbot.forms.text import LONG_LABEL_WORDS, normalise_label


@dataclass(frozen=True)
class LabelIndex:
    """Every label, heading and column header of one form description, normalised."""

    labels: frozenset[str]
    #: The most words any label has (a cell's longer prefixes cannot be labels).
    depth: int
    #: Normalised field label -> the keys of the fields it names.
    fields: dict[str, tuple[str, ...]]
    #: Field key -> its labels, normalised.
    field_labels: dict[str, tuple[str, ...]]
    #: Heading -> (the section it starts, its place among the sections, whether the
    #: heading may start a longer text: three words or more).
    headings: dict[str, tuple[str, int, bool]]
    #: Household column key -> its header labels, normalised.
    columns: dict[str, tuple[str, ...]]
    #: Normalised column header -> the household columns it names.
    column_labels: dict[str, tuple[str, ...]]
    #: Labels that say a cell is a label, not a value (all but the stop labels).
    label_cells: frozenset[str]


def _norms(texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(n for n in (normalise_label(t) for t in texts) if n)


@cache
def label_index(desc: FormDescription) -> LabelIndex:
    """The table for ``desc``, built on first use (a description is frozen: hashable)."""
    owners: dict[str, list[str]] = {}
    cells: set[str] = set()
    for spec in desc.fields:
        for label in _norms(spec.labels):
            owners.setdefault(label, []).append(spec.key)
        cells.update(_norms(spec.column))
    cells.update(owners)
    headings: dict[str, tuple[str, int, bool]] = {}
    for order, section in enumerate(desc.sections):
        for heading in _norms(section.headings):
            headings.setdefault(heading, (section.key, order, len(heading.split(" ")) >= 3))
    cells.update(headings)
    columns = {c.key: _norms(c.labels) for c in desc.household.columns}
    for labels in columns.values():
        cells.update(labels)
    every = cells | set(_norms(desc.household.stop_labels))
    return LabelIndex(
        labels=frozenset(every),
        depth=max((len(x.split(" ")) for x in every), default=0),
        fields={label: tuple(dict.fromkeys(keys)) for label, keys in owners.items()},
        field_labels={spec.key: _norms(spec.labels) for spec in desc.fields},
        headings=headings,
        columns=columns,
        column_labels={x: tuple(k for k, labels in columns.items() if x in labels) for x in cells},
        label_cells=frozenset(cells),
    )


@dataclass(frozen=True)
class Hits:
    """The labels one normalised cell text matches."""

    #: Matched as ``label_matches(norm, label)`` (whole text, or a long label's prefix).
    exact: frozenset[str]
    #: Matched as ``label_matches(norm, label, prefix=True)`` (also the cell's start).
    prefix: frozenset[str]


_NONE = Hits(frozenset(), frozenset())


@dataclass
class LabelTable:
    """One document's lookups: each distinct cell text matched against the index once."""

    index: LabelIndex
    _seen: dict[str, Hits] = field(default_factory=dict)

    def hits(self, norm: str) -> Hits:
        found = self._seen.get(norm)
        if found is None:
            found = self._seen[norm] = self._match(norm)
        return found

    def _match(self, norm: str) -> Hits:
        if not norm:
            return _NONE
        labels = self.index.labels
        exact: set[str] = set()
        prefix: set[str] = set()
        if norm in labels:
            exact.add(norm)
            prefix.add(norm)
        words = norm.split(" ")
        for k in range(1, min(len(words), self.index.depth + 1)):
            start = " ".join(words[:k])
            if start in labels:
                prefix.add(start)
                if k >= LONG_LABEL_WORDS:
                    exact.add(start)
        if not prefix:
            return _NONE
        return Hits(frozenset(exact), frozenset(prefix))

    def matches(self, norm: str, label: str, *, prefix: bool = False) -> bool:
        """``text.label_matches(norm, label, prefix=prefix)`` for a label in the index."""
        hits = self.hits(norm)
        return label in (hits.prefix if prefix else hits.exact)

    def section(self, norm: str) -> str | None:
        """The section whose heading the cell text is (a long heading: or starts with)."""
        hits = self.hits(norm)
        best: tuple[int, str] | None = None
        for label in hits.prefix:
            heading = self.index.headings.get(label)
            if heading is not None and (heading[2] or label in hits.exact):
                if best is None or heading[1] < best[0]:
                    best = heading[1], heading[0]
        return best[1] if best else None

    def is_label(self, norm: str) -> bool:
        """Whether the cell text is a label of the form (a field, heading or column)."""
        return not self.index.label_cells.isdisjoint(self.hits(norm).exact)

    def column_keys(self, norm: str) -> set[str]:
        """Household columns one of whose headers the cell text is (``label_matches``)."""
        keys: set[str] = set()
        for label in self.hits(norm).exact:
            keys.update(self.index.column_labels.get(label, ()))
        return keys

    def field_keys(self, norm: str) -> set[str]:
        """Keys of the fields one of whose labels the cell text starts with (or is)."""
        keys: set[str] = set()
        for label in self.hits(norm).prefix:
            keys.update(self.index.fields.get(label, ()))
        return keys
