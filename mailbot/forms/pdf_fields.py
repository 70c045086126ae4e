"""Fillable PDF forms: values kept in AcroForm fields rather than printed text.

A field is matched to the referral by its name or tooltip, compared with each field's
tags (e.g. ``ChildDOB``) and labels.  Printed text wins where both exist; a field only
fills a value the page text left empty.
"""

from __future__ import annotations

import io
from typing import Any

from mailbot.forms.description import FieldSpec, FormDescription
from mailbot.forms.layout import Cell
from mailbot.forms.model import ParsedForm
from mailbot.forms.record import get_path, missing_required, set_path
from mailbot.forms.text import normalise_label
from mailbot.forms.values import convert


def _acro_values(data: bytes, reader: Any = None) -> dict[str, str]:
    """Field name/tooltip (normalised) -> value, for fields that hold text."""
    try:
        from pypdf import PdfReader  # loaded only when a PDF arrives (70 ms)

        if reader is None:
            reader = PdfReader(io.BytesIO(data))
        fields: dict[str, Any] = reader.get_fields() or {}
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001
        # pypdf raises many types on broken files; the page text has already been read,
        # so a PDF whose fields cannot be read is simply a PDF without fields.
        return {}
    values: dict[str, str] = {}
    for name, spec in fields.items():
        value = spec.get("/V")
        if value is None or not str(value).strip() or str(value) == "/Off":
            continue
        for key in (name, spec.get("/TU")):
            if key:
                values[normalise_label(str(key))] = str(value).lstrip("/")
    return values


def _names(spec: FieldSpec) -> set[str]:
    return {normalise_label(x) for x in spec.tags + spec.labels}


def overlay_acroform(data: bytes, form: ParsedForm, desc: FormDescription, reader: Any = None) -> None:
    """Fill values still empty from the PDF's form fields (provenance ``pdf_field``).

    ``reader`` is pypdf's reader of ``data`` when the caller has one already.
    """
    values = _acro_values(data, reader)
    if not values:
        return
    for spec in desc.fields:
        if spec.layout == "matrix" and spec.kind != "dropdown":
            continue
        if get_path(form.referral, spec.key) is not None:
            continue
        raw = next((values[n] for n in _names(spec) if n in values), None)
        if raw is None:
            continue
        cell = Cell(raw, source="pdf_field")
        value = convert(cell, raw, spec.kind, desc, choices=spec.choices, reference_year=None)
        if value.value is not None:
            set_path(form.referral, spec.key, value.value)
            form.provenance[spec.key] = "pdf_field"
    form.missing_required = missing_required(form.referral, desc)
