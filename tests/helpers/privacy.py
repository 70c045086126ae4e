"""The personal values of the fixtures, for scanning outbound mail and database files."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

FORMS = Path(__file__).resolve().parents[1] / "data" / "forms"
#: Words that appear in the form or our own letters and are not personal on their own.
NOT_PERSONAL = {"croydon", "mother", "father", "female", "male", "partner", "london", "test"}


def _dates(iso: str) -> list[str]:
    d = date.fromisoformat(iso)
    return [iso, d.strftime("%d/%m/%Y"), f"{d.day}/{d.month}/{d.year}", d.strftime("%d.%m.%Y")]


def personal_values() -> set[str]:
    values: set[str] = set()
    for path in sorted(FORMS.glob("*.expected.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if "reject" in record:
            continue
        child = record["child"]
        people = [child["full_name"], *(m["name"] for m in record["household"])]
        for name in filter(None, people):
            values.add(name)
            parts = [p for p in re.split(r"[\s\-]+", name) if len(p) >= 3]
            values.update(p for p in parts if p.lower() not in NOT_PERSONAL)
        if child["full_name"]:
            words = child["full_name"].split()
            values.add(".".join(w[0] for w in (words[0], words[-1])) + ".")
        for iso in filter(None, [child["dob"], *(m["dob"] for m in record["household"])]):
            values.update(_dates(iso))
        for text in filter(None, [child["address"], record["household_address"]]):
            for line in re.split(r"[\n,]", text):
                line = line.strip()
                if len(line) >= 5 and line.lower() not in NOT_PERSONAL:
                    values.add(line)
        for number in filter(None, [child["nhs_number"], child["crs_number"], child["pnc_number"]]):
            values.add(number)
            if len(number) == 10 and number.isdigit():
                values.add(f"{number[:3]} {number[3:6]} {number[6:]}")
        if record["incident_details"]:
            values.add(record["incident_details"][:40])
    return values


def scan(blob: bytes, values: set[str] | None = None, *, min_len: int = 1) -> list[str]:
    """Which personal values appear in ``blob`` (UTF-8, case-insensitive, whole words).

    For binary files (database pages full of ciphertext) pass ``min_len=6``: a three-letter
    name turns up in a megabyte of random bytes about every other run by chance alone.
    """
    found = []
    lowered = blob.lower()
    for value in values if values is not None else personal_values():
        if len(value) < min_len:
            continue
        needle = re.escape(value.encode("utf-8").lower())
        # Whole words only: "Test" the surname is not "p.testington" the address.
        if re.search(rb"(?<![a-z0-9])" + needle + rb"(?![a-z0-9])", lowered):
            found.append(value)
    return sorted(found)
