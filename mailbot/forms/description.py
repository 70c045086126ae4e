"""The form's description (``coc_form.toml``) as typed, frozen values.

The readers never hard-code a label: they ask this description.  Keeping the form as
data means a new revision of the form is a TOML change plus a fixture, not new code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any, Literal

from mailbot.forms.text import normalise_label

Kind = Literal["text", "freetext", "date", "dropdown", "nhs", "email"]
Layout = Literal["beside", "inline", "matrix"]

_KINDS = {"text", "freetext", "date", "dropdown", "nhs", "email"}
_LAYOUTS = {"beside", "inline", "matrix"}


@dataclass(frozen=True)
class Section:
    """A part of the form, recognised by its heading text."""

    key: str
    headings: tuple[str, ...]


@dataclass(frozen=True)
class FieldSpec:
    """One value of the referral: where its label is and what kind of value it holds."""

    key: str
    section: str
    labels: tuple[str, ...]
    kind: Kind
    layout: Layout
    reply: str
    column: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnSpec:
    """A column of the household table."""

    key: str
    labels: tuple[str, ...]
    kind: Kind


@dataclass(frozen=True)
class HouseholdSpec:
    """The household table: a header row, then one row per person."""

    section: str
    key: str
    columns: tuple[ColumnSpec, ...]
    min_header_labels: int
    stop_labels: tuple[str, ...]


@dataclass(frozen=True)
class FormDescription:
    """Everything the readers need to know about one revision of the form."""

    name: str
    revision: str
    title_words: tuple[str, ...]
    min_labels: int
    placeholders: tuple[str, ...]
    sections: tuple[Section, ...]
    fields: tuple[FieldSpec, ...]
    household: HouseholdSpec
    themes_section: str
    themes: tuple[str, ...]
    required: tuple[str, ...]
    ethnicities: tuple[str, ...]

    def field(self, key: str) -> FieldSpec:
        """The field with this dotted key (KeyError for a key the form does not have)."""
        for spec in self.fields:
            if spec.key == key:
                return spec
        raise KeyError(key)

    @cached_property
    def placeholder_keys(self) -> frozenset[str]:
        """Placeholders normalised, for comparing with what a cell shows."""
        return frozenset(normalise_label(p) for p in self.placeholders)


def _tuple(raw: dict[str, Any], name: str) -> tuple[str, ...]:
    value = raw.get(name, [])
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _field(raw: dict[str, Any], choices: dict[str, list[str]]) -> FieldSpec:
    kind = raw["kind"]
    layout = raw.get("layout", "beside")
    if kind not in _KINDS or layout not in _LAYOUTS:
        raise ValueError(f"coc_form.toml: field {raw['key']} has kind/layout {kind}/{layout}")
    return FieldSpec(
        key=raw["key"],
        section=raw["section"],
        labels=_tuple(raw, "labels"),
        kind=kind,
        layout=layout,
        reply=raw["reply"],
        column=_tuple(raw, "column"),
        choices=tuple(choices.get(raw.get("choices", ""), [])),
        tags=_tuple(raw, "tags"),
    )


def parse_description(raw: dict[str, Any]) -> FormDescription:
    """Build the typed description from the TOML tables (separate so tests can vary it)."""
    form = raw["form"]
    choices: dict[str, list[str]] = raw["choices"]
    house = raw["household"]
    return FormDescription(
        name=form["name"],
        revision=str(form["revision"]),
        title_words=_tuple(form, "title_words"),
        min_labels=int(form["min_labels"]),
        placeholders=_tuple(form, "placeholders"),
        sections=tuple(Section(s["key"], _tuple(s, "headings")) for s in raw["sections"]),
        fields=tuple(_field(f, choices) for f in raw["fields"]),
        household=HouseholdSpec(
            section=house["section"],
            key=house["key"],
            columns=tuple(ColumnSpec(c["key"], _tuple(c, "labels"), c["kind"]) for c in house["columns"]),
            min_header_labels=int(house["min_header_labels"]),
            stop_labels=_tuple(house, "stop_labels"),
        ),
        themes_section=raw["themes"]["section"],
        themes=_tuple(raw["themes"], "labels"),
        required=_tuple(raw["required"], "keys"),
        ethnicities=tuple(choices["ethnicity"]),
    )


@cache
def load_description() -> FormDescription:
    """The packaged form description, read once (cached: it is data, never changed)."""
    text = resources.files("mailbot.forms").joinpath("coc_form.toml").read_text("utf-8")
    return parse_description(tomllib.loads(text))
