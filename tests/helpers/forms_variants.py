"""Builds variant .docx files from the blank COC form, in code, so each quirk is visible.

Every helper edits ``word/document.xml`` of ``coc-referral-form-blank.docx`` with lxml,
the way Word (or a referrer) would have written it.  The locator here is deliberately
simple and independent of ``mailbot.forms`` so the tests do not test the reader with
itself.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path

from lxml import etree

DATA = Path(__file__).resolve().parents[1] / "data" / "forms"
BLANK = DATA / "coc-referral-form-blank.docx"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14_NS = "http://schemas.microsoft.com/office/word/2010/wordml"
W = f"{{{W_NS}}}"
W14 = f"{{{W14_NS}}}"
EN_SPACES = "\u2002" * 5

#: What ``filled()`` types into the blank form (all invented).
BASE_VALUES = {
    "Your Name": "Robin Sampleton",
    "Your Role": "School Nurse",
    "Your Agency": "Example Health Trust",
    "Email": "robin.sampleton@health.example.org",
    "Full Name": "Casey Invented",
    "Home address": "3 Fictional Row, Croydon CR0 9ZZ",
}


class Form:
    """The blank form's parts, with ``root`` the parsed document.xml to edit."""

    def __init__(self, path: Path = BLANK) -> None:
        with zipfile.ZipFile(path) as archive:
            self.parts = {name: archive.read(name) for name in archive.namelist()}
        self.root = etree.fromstring(self.parts["word/document.xml"])
        #: Texts of the blank's label cells (placeholders are values, not labels).
        self.labels = {
            text_of(tc).strip()
            for tc in self.root.iter(W + "tc")
            if text_of(tc).strip()
            and "Click or tap" not in text_of(tc)
            and "Choose an item" not in text_of(tc)
        }

    # ------------------------------------------------------------------ output
    def to_bytes(self, extra: dict[str, bytes] | None = None) -> bytes:
        parts = dict(self.parts)
        parts["word/document.xml"] = etree.tostring(
            self.root, xml_declaration=True, encoding="UTF-8", standalone=True
        )
        parts.update(extra or {})
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
        return buffer.getvalue()

    # ------------------------------------------------------------------ finding
    @property
    def body(self) -> etree._Element:
        return self.root.find(W + "body")

    def tables(self) -> list[etree._Element]:
        return list(self.body.iter(W + "tbl"))

    def cells(self, tr: etree._Element) -> list[etree._Element]:
        return [tc for tc in tr.iter(W + "tc")]

    def label_cell(self, label: str, occurrence: int = 0) -> etree._Element:
        hits = [tc for tc in self.root.iter(W + "tc") if text_of(tc).strip() == label]
        return hits[occurrence]

    def value_cell(self, label: str, occurrence: int = 0) -> etree._Element:
        """The cell right of the label, or under it when the right one is a label too."""
        tc = self.label_cell(label, occurrence)
        tr = next(a for a in tc.iterancestors(W + "tr"))
        cells = self.cells(tr)
        index = cells.index(tc)
        right = cells[index + 1] if index + 1 < len(cells) else None
        if right is not None and text_of(right).strip() not in self.labels:
            return right
        below = tr.getnext()
        return self.cells(below)[index]

    # ------------------------------------------------------------------ editing
    def set_text(self, label: str, text: str, occurrence: int = 0) -> etree._Element:
        tc = self.value_cell(label, occurrence)
        set_cell_text(tc, text)
        return tc

    def fill(self, values: dict[str, str] | None = None) -> Form:
        """Type the required values into the blank (plain text, no controls)."""
        for label, text in (values or BASE_VALUES).items():
            self.set_text(label, text)
        self.set_control("Date of referral", "05/10/2026", full_date="2026-10-05")
        self.set_control("Date of Birth", "03/03/2015", full_date="2015-03-03")
        self.set_question("Brief details of incident", "An invented incident.")
        self.set_question("What is the anticipated learning", "Invented learning.")
        return self

    def set_question(self, starts: str, text: str) -> etree._Element:
        tc = next(tc for tc in self.root.iter(W + "tc") if text_of(tc).startswith(starts))
        tr = next(tc.iterancestors(W + "tr"))
        value = self.cells(tr.getnext())[0]
        set_cell_text(value, text)
        return value

    def set_control(
        self, label: str, text: str, *, full_date: str | None = None, occurrence: int = 0
    ) -> etree._Element:
        """Pick a value in the content control beside ``label`` (date or drop-down)."""
        tc = self.value_cell(label, occurrence)
        sdt = next(tc.iterancestors(W + "sdt"), None)
        if sdt is None:
            sdt = tc.find(f".//{W}sdt")
        pr = sdt.find(W + "sdtPr")
        for placeholder in pr.findall(W + "showingPlcHdr"):
            pr.remove(placeholder)
        if full_date is not None and pr.find(W + "date") is not None:
            pr.find(W + "date").set(W + "fullDate", f"{full_date}T00:00:00Z")
        texts = list(sdt.find(W + "sdtContent").iter(W + "t"))
        texts[0].text = text
        for extra in texts[1:]:
            extra.text = ""
        return tc

    def theme_controls(self) -> dict[str, etree._Element]:
        """Theme label -> the paragraph holding its box and label."""
        found = {}
        for p in self.tables()[2].iter(W + "p"):
            label = "".join(t.text or "" for t in p.iter(W + "t")).strip(" ☐")
            if p.find(f".//{W14}checkbox") is not None and label:
                found[label.strip()] = p
        return found

    def replace_box(self, theme: str, make: Callable[[], list[etree._Element]]) -> None:
        """Put ``make()`` elements where the theme's check box control was."""
        p = self.theme_controls()[theme]
        sdt = p.find(W + "sdt")
        index = list(p).index(sdt)
        p.remove(sdt)
        for offset, element in enumerate(make()):
            p.insert(index + offset, element)

    def tick_control(self, theme: str) -> None:
        p = self.theme_controls()[theme]
        p.find(f".//{W14}checked").set(W14 + "val", "1")

    def household_rows(self) -> list[etree._Element]:
        return self.tables()[1].findall(W + "tr")[2:-1]


def text_of(element: etree._Element) -> str:
    return "".join(t.text or "" for t in element.iter(W + "t"))


def w(tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    """A ``w:`` element; attributes are given without prefix (``val="x"``)."""
    element = etree.Element(W + tag, {W + k: v for k, v in attrs.items()})
    if text is not None:
        element.text = text
        element.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return element


def run(text: str) -> etree._Element:
    r = w("r")
    r.append(w("t", text))
    return r


def paragraph(*children: etree._Element) -> etree._Element:
    p = w("p")
    for child in children:
        p.append(child)
    return p


def set_cell_text(tc: etree._Element, text: str) -> None:
    """Replace the cell's paragraphs with one paragraph per line of ``text``."""
    for p in tc.findall(W + "p"):
        tc.remove(p)
    for line in text.split("\n"):
        tc.append(paragraph(run(line)))


def set_cell_children(tc: etree._Element, *children: etree._Element) -> None:
    """Replace the cell's paragraphs with one paragraph holding ``children``."""
    for p in tc.findall(W + "p"):
        tc.remove(p)
    tc.append(paragraph(*children))


def legacy_checkbox(checked: bool | None, default: bool) -> list[etree._Element]:
    """A Word 97-2003 FORMCHECKBOX field: begin (with ffData), instr, separate, end."""
    begin = w("r")
    char = w("fldChar", fldCharType="begin")
    ff = w("ffData")
    box = w("checkBox")
    box.append(w("sizeAuto"))
    box.append(w("default", val="1" if default else "0"))
    if checked is not None:
        box.append(w("checked", val="1" if checked else "0"))
    ff.append(box)
    char.append(ff)
    begin.append(char)
    instr = w("r")
    instr.append(w("instrText", " FORMCHECKBOX "))
    end = w("r")
    end.append(w("fldChar", fldCharType="end"))
    return [begin, instr, end]


def legacy_text(result: str) -> list[etree._Element]:
    """A FORMTEXT field whose shown result is ``result`` (five en-spaces when unfilled)."""
    begin = w("r")
    char = w("fldChar", fldCharType="begin")
    ff = w("ffData")
    ff.append(w("textInput"))
    char.append(ff)
    begin.append(char)
    instr = w("r")
    instr.append(w("instrText", " FORMTEXT "))
    sep = w("r")
    sep.append(w("fldChar", fldCharType="separate"))
    end = w("r")
    end.append(w("fldChar", fldCharType="end"))
    return [begin, instr, sep, run(result), end]


def inserted(text: str) -> etree._Element:
    ins = w("ins", id="901", author="Reviewer", date="2026-10-05T09:00:00Z")
    ins.append(run(text))
    return ins


def deleted(text: str) -> etree._Element:
    dele = w("del", id="902", author="Reviewer", date="2026-10-05T09:00:00Z")
    r = w("r")
    r.append(w("delText", text))
    dele.append(r)
    return dele


def add_household_members(form: Form, members: list[tuple[str, str, str, str]]) -> None:
    """Fill member rows, cloning the last empty row when the table needs more."""
    rows = form.household_rows()
    template = rows[-1]
    while len(rows) < len(members):
        clone = deepcopy(template)
        rows[-1].addnext(clone)
        rows.append(clone)
    for tr, member in zip(rows, members, strict=False):
        for tc, value in zip(form.cells(tr), member, strict=True):
            set_cell_text(tc, value)


# ---------------------------------------------------------------- helpers for misreadings
def sdt_of(tc: etree._Element) -> etree._Element:
    """The content control in (or around) a value cell."""
    sdt = next(tc.iterancestors(W + "sdt"), None)
    return sdt if sdt is not None else tc.find(f".//{W}sdt")


def picker(form: Form, label: str) -> etree._Element:
    """The ``w:date`` properties of the date picker beside ``label``."""
    return sdt_of(form.value_cell(label)).find(f"{W}sdtPr/{W}date")


def symbol_run(font: str, char: str) -> list[etree._Element]:
    """A ``w:sym`` box or tick in a symbol font (Insert > Symbol), then a space."""
    r = w("r")
    r.append(w("sym", font=font, char=char))
    return [r, run(" ")]


def font_run(font: str, text: str) -> list[etree._Element]:
    """Text typed in a symbol font ("þ" in Wingdings draws a ticked box), then a space."""
    r = w("r")
    rpr = w("rPr")
    rpr.append(w("rFonts", ascii=font, hAnsi=font))
    r.append(rpr)
    r.append(w("t", text))
    return [r, run(" ")]


def paste_blank_copy_first(form: Form) -> None:
    """The blank form pasted above the filled one (the whole body, sections aside)."""
    blank = [deepcopy(e) for e in Form().body if e.tag != W + "sectPr"]
    for i, element in enumerate(blank):
        form.body.insert(i, element)


def put_in_frame(form: Form) -> None:
    """The whole form moved into the one cell of a 1x1 table (a border round it)."""
    tbl, tr, tc = w("tbl"), w("tr"), w("tc")
    tbl.append(w("tblPr"))
    tr.append(tc)
    tbl.append(tr)
    for element in [e for e in form.body if e.tag != W + "sectPr"]:
        form.body.remove(element)
        tc.append(element)
    tc.append(paragraph())
    form.body.insert(0, tbl)


STRICT_W = b"http://purl.oclc.org/ooxml/wordprocessingml/main"


def as_strict(form: Form) -> bytes:
    """The form saved as "Strict Open XML Document" (the w: namespace differs)."""
    xml = etree.tostring(form.root).replace(W_NS.encode(), STRICT_W)
    return form.to_bytes({"word/document.xml": xml})


def main_part_renamed(form: Form, name: str = "word/document2.xml") -> bytes:
    """The main part stored under another name, found through ``_rels/.rels``."""
    source = zipfile.ZipFile(io.BytesIO(form.to_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.namelist():
            data = source.read(member)
            if member == "word/document.xml":
                member = name
            elif member == "word/_rels/document.xml.rels":
                member = name.replace("word/", "word/_rels/") + ".rels"
            elif member in ("_rels/.rels", "[Content_Types].xml"):
                data = data.replace(b"word/document.xml", name.encode())
            archive.writestr(member, data)
    return buffer.getvalue()
