"""How the agenda pack looks: its marking, colours, and the page-number field.

Kept apart from ``pack`` (what the pack says) so that the document's content and its
typography change independently; ``pack_xml`` makes the body's elements.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import RGBColor
from docx.text.paragraph import Paragraph

from mailbot.cases.referral import age_on
from mailbot.forms.model import Referral

MARKING = "CONFIDENTIAL - NOT FOR ONWARD CIRCULATION"
ORG = "Croydon Safeguarding Children Partnership"
NAVY = RGBColor(0x1F, 0x38, 0x64)
GREY = RGBColor(0x4B, 0x55, 0x63)
RED = RGBColor(0xA3, 0x1B, 0x1B)
LABEL_FILL = "D9E2F3"
HEAD_FILL = "1F3864"
FONT = "Arial"


# -- small helpers on the XML python-docx does not wrap ---------------------------------
def field_code(paragraph: Paragraph, instruction: str, placeholder: str = "1") -> None:
    """A Word field (PAGE, NUMPAGES): Word and LibreOffice fill it in when laying out."""
    run = paragraph.add_run()
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run._r.append(begin)
    run = paragraph.add_run()
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run._r.append(instr)
    run = paragraph.add_run()
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run._r.append(sep)
    paragraph.add_run(placeholder)
    run = paragraph.add_run()
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.append(end)


def text_of(value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def age_text(referral: Referral, on: date) -> str:
    """The child's age on the meeting day (or at death), in words a reader expects."""
    child = referral.get("child") or {}
    dob = child.get("dob")
    dod = child.get("dod")
    when = on
    if dod:
        try:
            when = min(on, date.fromisoformat(dod))
        except ValueError:
            pass
    years = age_on(dob, when)
    if years is None:
        return "not known"
    if years == 0 and dob:
        born = date.fromisoformat(dob)
        months = (when.year - born.year) * 12 + when.month - born.month - (when.day < born.day)
        text = f"{max(months, 0)} month{'s' if months != 1 else ''}"
    else:
        text = f"{years} year{'s' if years != 1 else ''}"
    return f"{text} (died)" if dod else text
