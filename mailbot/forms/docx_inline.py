"""What a reader sees inside one paragraph or cell of a Word document.

Word keeps what is on screen in many places: runs, content controls (``w:sdt``) at
run and cell level, legacy form fields (``FORMTEXT``/``FORMCHECKBOX`` between
``w:fldChar`` marks), hyperlinks, tracked insertions.  This module walks them in
document order and returns the visible text, noting which mechanism produced it so
that every value can say where it came from (its provenance).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from lxml import etree

from mailbot.forms.dates import parse_full_date
from mailbot.forms.description import load_description
from mailbot.forms.text import CC_OFF, CC_ON, LEGACY_OFF, LEGACY_ON, normalise_label

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"

#: Never part of what a reader sees: deleted revisions, properties, field codes.
_SKIP = {
    W + "del",
    W + "moveFrom",
    W + "delText",
    W + "delInstrText",
    W + "instrText",
    W + "pPr",
    W + "rPr",
    W + "sdtPr",
    W + "sdtEndPr",
    W + "tcPr",
    W + "trPr",
    W + "tblPr",
    W + "tblGrid",
    W + "commentReference",
    W + "footnoteReference",
    W + "endnoteReference",
    W + "annotationRef",
    MC + "Fallback",
    W + "bookmarkStart",
    W + "bookmarkEnd",
    W + "proofErr",
    W + "lastRenderedPageBreak",
}
_TRUE = {"1", "true", "on"}
#: Symbol-font characters people use as boxes and ticks, by font and code (the low byte
#: of ``w:sym/@w:char``, of a private-use U+F0xx character, or of a Latin-1 character
#: typed in that font: Wingdings shows "þ" as a ticked box).
_SYMBOLS: dict[str, dict[int, str]] = {
    "wingdings": {0xA8: "☐", 0x6F: "☐", 0x71: "☐", 0xFE: "☑", 0xFD: "☒", 0xFC: "✓", 0x78: "☒", 0xFB: "☒"},
    "wingdings 2": {0xA3: "☐", 0x2A: "☐", 0x52: "☑", 0x54: "☒", 0x53: "☒", 0x51: "☒", 0x50: "✓", 0x4F: "☒"},
    "symbol": {0xD6: "✓"},
}
#: Words a placeholder starts with when Word's flag is left on over typed text.
_PROMPT = re.compile(r"^(?:click|tap|choose|select|enter|type)\b")


def first(element: etree._Element, tag: str) -> etree._Element | None:
    """The first child named ``tag`` (``element.find(tag)``, without lxml's path
    machinery: properties come first, so this is usually one step)."""
    for child in element:
        if child.tag == tag:
            return child
    return None


def on(element: etree._Element | None, default: bool = True) -> bool:
    """A Word on/off property: present without ``w:val`` means on."""
    if element is None:
        return False
    value = element.get(W + "val")
    return default if value is None else value.lower() in _TRUE


@dataclass(slots=True)
class Inline:
    """Collects the text and notes how it was produced, while walking one cell."""

    base: str = "table_cell"
    parts: list[str] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)
    stack: list[str] = field(default_factory=list)
    fields: list[list[str]] = field(default_factory=list)
    picked_date: date | None = None
    date_format: str | None = None
    placeholders: int = 0

    @property
    def mechanism(self) -> str:
        return self.stack[-1] if self.stack else self.base

    def emit(self, text: str) -> None:
        if self.fields and any(phase == "instr" for _kind, phase in self.fields):
            return
        self.parts.append(text)
        if text.strip():
            self.mechanisms.append(self.mechanism)

    @property
    def source(self) -> str:
        """The first mechanism other than plain typing, else plain typing."""
        for mechanism in self.mechanisms:
            if mechanism != self.base:
                return mechanism
        return self.base

    @property
    def text(self) -> str:
        return "".join(self.parts)


def control_kind(sdt_pr: etree._Element | None) -> str:
    """``content_control:date`` etc. for a content control's properties."""
    if sdt_pr is None:
        return "content_control"
    for tag, name in (
        (W + "date", "date"),
        (W + "dropDownList", "dropdown"),
        (W + "comboBox", "dropdown"),
        (W14 + "checkbox", "checkbox"),
        (W + "text", "text"),
        (W + "richText", "text"),
    ):
        if first(sdt_pr, tag) is not None:
            return f"content_control:{name}"
    return "content_control"


def enter_control(sdt_pr: etree._Element | None, ctx: Inline) -> bool:
    """Deal with a control's own state; False when its content must not be read."""
    if sdt_pr is None:
        ctx.stack.append("content_control")
        return True
    checkbox = first(sdt_pr, W14 + "checkbox")
    if checkbox is not None:
        checked = first(checkbox, W14 + "checked")  # an on/off property: no val means on
        ticked = checked is not None and checked.get(W14 + "val", "1").lower() in _TRUE
        ctx.parts.append(CC_ON if ticked else CC_OFF)
        ctx.mechanisms.append("content_control:checkbox")
        return False
    picker = first(sdt_pr, W + "date")
    if picker is not None:
        picked = parse_full_date(picker.get(W + "fullDate"))
        ctx.picked_date = picked or ctx.picked_date
        shown = first(picker, W + "dateFormat")
        if shown is not None and shown.get(W + "val"):
            ctx.date_format = shown.get(W + "val")
    ctx.stack.append(control_kind(sdt_pr))
    return True


def _field_char(element: etree._Element, ctx: Inline) -> None:
    kind = element.get(W + "fldCharType")
    if kind == "begin":
        ff = first(element, W + "ffData")
        name = "other"
        if ff is not None and first(ff, W + "checkBox") is not None:
            box = first(ff, W + "checkBox")
            checked = first(box, W + "checked") if box is not None else None
            default = first(box, W + "default") if box is not None else None
            ticked = on(checked) if checked is not None else on(default)
            ctx.parts.append(LEGACY_ON if ticked else LEGACY_OFF)
            ctx.mechanisms.append("legacy_field:checkbox")
            name = "checkbox"
        elif ff is not None and first(ff, W + "ddList") is not None:
            _legacy_dropdown(first(ff, W + "ddList"), ctx)
            name = "dropdown"
        elif ff is not None:
            name = "legacy"
        ctx.fields.append([name, "instr"])
        if name == "legacy":
            ctx.stack.append("legacy_field")
    elif kind == "separate" and ctx.fields:
        ctx.fields[-1][1] = "result"
    elif kind == "end" and ctx.fields:
        name, _phase = ctx.fields.pop()
        if name == "legacy" and ctx.stack:
            ctx.stack.pop()


def _legacy_dropdown(dd: etree._Element | None, ctx: Inline) -> None:
    """A Word 97 drop-down keeps its choice as an index, not as shown text."""
    if dd is None:
        return
    entries = [e.get(W + "val", "") for e in dd.findall(W + "listEntry")]
    chosen = first(dd, W + "result")
    if chosen is None:
        chosen = first(dd, W + "default")
    index = int(chosen.get(W + "val", "0")) if chosen is not None else 0
    if 0 <= index < len(entries) and entries[index].strip():
        ctx.parts.append(entries[index])
        ctx.mechanisms.append("legacy_field:dropdown")


def _symbol(font: str | None, char: str) -> str:
    """A ``w:sym`` as the box or tick it draws (nothing for other symbols)."""
    try:
        code = int(char, 16) & 0xFF
    except ValueError:
        return ""
    table = _SYMBOLS.get((font or "Wingdings").strip().casefold(), {})
    return table.get(code, "")


_RPR, _RFONTS = W + "rPr", W + "rFonts"
_FONT_ATTRS = (W + "ascii", W + "hAnsi", W + "cs")
_PRIVATE_USE = re.compile("[\uf000-\uf0ff]")


def _run_font(run: etree._Element) -> str | None:
    """The symbol font of a run (``w:rFonts``), None for a text font."""
    props = first(run, _RPR)
    fonts = first(props, _RFONTS) if props is not None else None
    if fonts is None:
        return None
    for attr in _FONT_ATTRS:
        name: str | None = fonts.get(attr)
        if name and (name := name.strip().casefold()) in _SYMBOLS:
            return name
    return None


def _in_font(text: str, font: str | None) -> str:
    """Text typed in a symbol font ("þ" in Wingdings), or private-use U+F0xx characters,
    as the boxes and ticks they draw; other text is returned unchanged."""
    if font is None and _PRIVATE_USE.search(text) is None:
        return text
    table = _SYMBOLS.get(font or "wingdings", {})
    out = []
    for ch in text:
        code = ord(ch)
        if font is not None and code < 0x100 or 0xF000 <= code <= 0xF0FF:
            out.append(table.get(code & 0xFF, ch if code < 0xF000 else ""))
        else:
            out.append(ch)
    return "".join(out)


#: What a tag shows, for the tags that show a fixed text.
_FIXED = {W + "tab": "\t", W + "br": "\n", W + "cr": "\n", W + "noBreakHyphen": "-"}
_T, _R, _SYM, _FLDCHAR, _SDT, _P = W + "t", W + "r", W + "sym", W + "fldChar", W + "sdt", W + "p"
_FONT, _CHAR = W + "font", W + "char"
_NO_FONT = object()


def walk_inline(element: etree._Element, ctx: Inline) -> None:
    """Append the visible text under ``element`` to ``ctx`` (document order)."""
    font: object = _NO_FONT  # the run's symbol font, looked up at its first text
    for child in element:
        tag = child.tag
        if tag in _SKIP or not isinstance(tag, str):
            continue
        if tag == _T:
            if font is _NO_FONT:
                font = _run_font(element)
            ctx.emit(_in_font(child.text or "", font))  # type: ignore[arg-type]
        elif tag == _R:
            walk_inline(child, ctx)
        elif tag in _FIXED:
            ctx.emit(_FIXED[tag])
        elif tag == _SYM:
            ctx.emit(_symbol(child.get(_FONT), child.get(_CHAR, "0")))
        elif tag == _FLDCHAR:
            _field_char(child, ctx)
        elif tag == _SDT:
            walk_control(child, ctx)
        elif tag == _P:
            if ctx.parts:
                ctx.emit("\n")
            walk_inline(child, ctx)
        elif len(child):
            walk_inline(child, ctx)


def is_prompt(text: str) -> bool:
    """Whether a control flagged as showing its placeholder really shows one."""
    norm = normalise_label(text)
    return not norm or norm in load_description().placeholder_keys or bool(_PROMPT.match(norm))


def walk_control(sdt: etree._Element, ctx: Inline) -> None:
    """A content control: its state first, then (if shown) its content.

    ``w:showingPlcHdr`` is sometimes left on over typed text (a LibreOffice round
    trip), so the content is read and counts as empty only when it is a prompt.
    """
    depth = len(ctx.stack)
    sdt_pr = first(sdt, W + "sdtPr")
    if enter_control(sdt_pr, ctx):
        content = first(sdt, W + "sdtContent")
        if content is not None:
            walk_content(content, ctx, sdt_pr)
    del ctx.stack[depth:]


def showing_placeholder(sdt_pr: etree._Element | None) -> bool:
    return sdt_pr is not None and first(sdt_pr, W + "showingPlcHdr") is not None


def walk_content(content: etree._Element, ctx: Inline, sdt_pr: etree._Element | None) -> None:
    """A control's content; a flagged placeholder is read aside and dropped if a prompt."""
    if not showing_placeholder(sdt_pr):
        walk_inline(content, ctx)
        return
    mark = len(ctx.parts), len(ctx.mechanisms)
    walk_inline(content, ctx)
    if is_prompt("".join(ctx.parts[mark[0] :])):
        del ctx.parts[mark[0] :]
        del ctx.mechanisms[mark[1] :]
        ctx.placeholders += 1
