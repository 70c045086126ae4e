"""The label table answers as ``text.label_matches`` does, label by label.

``LabelTable`` looks every label up at once for speed; ``label_matches`` is the plain
one-label rule it replaces.  Checked for every label of the form description against
every other label and against retyped variants (case, punctuation, words before/after).
"""

from __future__ import annotations

from mailbot.forms.description import load_description
from mailbot.forms.labels import LabelTable, label_index
from mailbot.forms.text import LONG_LABEL_WORDS, label_matches, normalise_label


def _variants(label: str) -> list[str]:
    words = label.split(" ")
    texts = [
        label.upper(),
        label.title() + ":",
        f"({label})",
        f"{label}: Jane Doe",
        f"{label} and more words",
        f"please give {label}",
        label.replace(" ", "-"),
        label.replace(" ", ""),
        " ".join(words[:-1]),
        " ".join(words[:LONG_LABEL_WORDS]) + " something else",
    ]
    return [normalise_label(t) for t in texts]


def test_label_table_agrees_with_label_matches() -> None:
    index = label_index(load_description())
    labels = sorted(index.labels)
    norms = set(labels) | {v for label in labels for v in _variants(label)} | {""}
    table = LabelTable(index)
    outcomes: set[tuple[bool, bool]] = set()
    for norm in sorted(norms):
        for label in labels:
            for prefix in (False, True):
                expected = label_matches(norm, label, prefix=prefix)
                assert table.matches(norm, label, prefix=prefix) == expected, (norm, label, prefix)
                outcomes.add((prefix, expected))
    assert outcomes == {(False, False), (False, True), (True, False), (True, True)}


def test_long_labels_match_a_longer_cell_without_being_asked() -> None:
    index = label_index(load_description())
    long = next(x for x in sorted(index.labels) if len(x.split(" ")) >= LONG_LABEL_WORDS)
    short = next(x for x in sorted(index.labels) if len(x.split(" ")) < LONG_LABEL_WORDS)
    table = LabelTable(index)
    assert table.matches(f"{long} written on", long)
    assert not table.matches(f"{short} written on", short)
    assert table.matches(f"{short} written on", short, prefix=True)
