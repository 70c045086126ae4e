"""The SPRG agenda pack: one Word document for one meeting.

A cover page (meeting, chair, the list of cases), then each case on a new page with
what the SPRG needs from the referral, ending with the form's outcome table ready to be
filled in. Every page carries the confidentiality marking in its header and a page
number in its footer; headings keep with what follows and table rows never split across
pages. The document is built in memory; ``write_pack`` is the only place it touches disk.

python-docx opens its template and sets the styles, page, header and footer; the body
(about 1,500 elements a case) is made with lxml in ``pack_xml``, which is what makes a
100-case pack take a fraction of a second instead of about 10 s.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from copy import deepcopy
from datetime import date
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from mailbot.clock import long_date, uk_date
from mailbot.forms.convert import to_pdf
from mailbot.forms.model import Referral
from mailbot.sprg.pack_format import (
    FONT,
    GREY,
    HEAD_FILL,
    LABEL_FILL,
    MARKING,
    NAVY,
    ORG,
    RED,
    age_text,
    field_code,
    text_of,
)
from mailbot.sprg.pack_xml import PLAIN, Element, Font, Table, paragraph, run
from mailbot.sprg.scheduling import PackCase
from mailbot.store.private_file import refuse_link, write_private


# -- the document ---------------------------------------------------------------------
class PackBuilder:
    def __init__(self, meeting: date, chair: str | None, compiled_on: date) -> None:
        self.meeting = meeting
        self.chair = chair
        self.compiled_on = compiled_on
        self.doc: DocxDocument = Document()
        props = self.doc.core_properties  # shown by Word and in the PDF's properties
        props.author = ORG
        props.title = f"SPRG agenda pack - {meeting:%d/%m/%Y}"
        props.subject = "CONFIDENTIAL - NOT FOR ONWARD CIRCULATION"
        props.comments = ""
        self._style_ids = {
            name: self.doc.styles[name].style_id for name in ("Heading 1", "Heading 2", "Table Grid")
        }
        self._styles()
        self._page()
        self.body: list[Element] = []  # the body's elements, in order (see ``build``)
        self._blank_outcome: Element | None = None

    def _styles(self) -> None:
        styles = self.doc.styles
        normal = styles["Normal"]
        normal.font.name = FONT
        normal.font.size = Pt(10.5)
        normal.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
        # Normal is tight (table cells use it, and setting spacing cell by cell is slow);
        # running text gets the roomier "Pack Body".
        normal.paragraph_format.space_after = Pt(2)
        body = styles.add_style("Pack Body", WD_STYLE_TYPE.PARAGRAPH)
        body.base_style = normal
        body.paragraph_format.space_after = Pt(5)
        self._style_ids["Pack Body"] = body.style_id
        for name, size, before in (("Title", 24, 0), ("Heading 1", 16, 0), ("Heading 2", 12, 12)):
            style = styles[name]
            style.font.name = FONT
            style.font.size = Pt(size)
            style.font.color.rgb = NAVY
            style.font.bold = True
            # Heading styles name theme fonts, which win over w:ascii: drop them.
            fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
            for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
                fonts.attrib.pop(qn(attr), None)
            fmt = style.paragraph_format
            fmt.space_before = Pt(before)
            fmt.space_after = Pt(6)
            fmt.keep_with_next = True
        title = styles["Title"]
        t_ppr = title.element.get_or_add_pPr()
        for border in t_ppr.findall(qn("w:pBdr")):
            t_ppr.remove(border)

    def _page(self) -> None:
        section = self.doc.sections[0]
        section.page_height, section.page_width = Cm(29.7), Cm(21.0)
        section.left_margin = section.right_margin = Cm(2.0)
        section.top_margin, section.bottom_margin = Cm(2.2), Cm(2.0)
        section.header_distance = section.footer_distance = Cm(1.0)
        head = section.header.paragraphs[0]
        head.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = head.add_run(MARKING)
        run.bold = True
        run.font.size = Pt(9)
        run.font.color.rgb = RED
        sub = section.header.add_paragraph()
        sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
        small = sub.add_run(f"SPRG agenda pack - meeting of {long_date(self.meeting)}")
        small.font.size = Pt(9)
        small.font.color.rgb = GREY
        foot = section.footer.paragraphs[0]
        foot.alignment = WD_ALIGN_PARAGRAPH.CENTER
        lead = foot.add_run(f"{ORG}  |  Page ")
        lead.font.size = Pt(9)
        field_code(foot, "PAGE")
        foot.add_run(" of ").font.size = Pt(9)
        field_code(foot, "NUMPAGES")
        for run in foot.runs:
            run.font.size = Pt(9)
            run.font.color.rgb = GREY

    # -- building blocks (lxml: see pack_xml) -----------------------------------------
    def add(self, element: Element) -> Element:
        self.body.append(element)
        return element

    def heading(self, text: str, level: int, *, page_break: bool = False) -> Element:
        para = paragraph(style=self._style_ids[f"Heading {level}"], keep=True, page_break=page_break)
        if text:
            run(para, text)
        return self.add(para)

    def text(self, text: str, font: Font = PLAIN, **layout: Any) -> Element:
        para = self.add(paragraph(**layout))
        run(para, text, font)
        return para

    def paragraphs(self, text: str | None, empty: str = "Not given on the form.") -> None:
        lines = [line.rstrip() for line in (text or "").split("\n")]
        blocks = [line for line in lines if line.strip()]
        if not blocks:
            self.text(empty, Font(italic=True, color=GREY))
            return
        for line in blocks:
            run(self.add(paragraph(style=self._style_ids["Pack Body"])), line)

    def table(self, widths: Sequence[float], header: Sequence[str] | None = None) -> Table:
        table = Table(self._style_ids["Table Grid"], widths)
        self.add(table.element)
        if header:
            table.row(list(header), header_fill=HEAD_FILL)
        return table

    def pairs(self, items: Sequence[tuple[str, Any]], widths: Sequence[float] = (5.5, 11.5)) -> Table:
        table = self.table(widths)
        for label, value in items:
            table.row([label, text_of(value) or "-"], label_cols=1, label_fill=LABEL_FILL)
        return table

    def spacer(self) -> None:
        self.add(paragraph(after=2))

    # -- the cover ---------------------------------------------------------------------
    def cover(self, cases: Sequence[PackCase]) -> None:
        self.text(ORG.upper(), Font(bold=True, color=GREY, size=10))
        self.text("Safeguarding Practice Review Group", style="Title")
        self.text(f"Agenda pack - meeting of {long_date(self.meeting)}", Font(color=NAVY, size=14))
        self.spacer()
        self.pairs(
            [
                ("Date of meeting", long_date(self.meeting)),
                ("Chair", self.chair or "to be confirmed"),
                ("Cases for decision", str(len(cases))),
                ("Pack compiled", long_date(self.compiled_on)),
            ]
        )
        self.heading("Cases for decision", 2)
        if not cases:
            self.paragraphs(None, empty="No cases are on the agenda of this meeting.")
        else:
            table = self.table(
                (0.9, 3.1, 4.8, 2.1, 6.1), ["#", "Reference", "Referring agency", "Age", "Themes"]
            )
            for n, case in enumerate(cases, start=1):
                r = case.referral
                ref = case.ref + (
                    f"\n(possible duplicate of {', '.join(case.duplicates)})" if case.duplicates else ""
                )
                table.row(
                    [
                        str(n),
                        ref,
                        text_of((r.get("referrer") or {}).get("agency")) or "not given",
                        age_text(r, self.meeting),
                        text_of(r.get("themes")) or "none ticked",
                    ]
                )
        self.text(
            "This pack holds special category personal data about children and their "
            "families. It is for the members of the SPRG for this meeting only: do not "
            "forward, copy or print more than you need, keep it secure and destroy it "
            "securely after the meeting. Each case starts on a new page; the outcome table "
            "at the end of each case is the form's own, to be completed at the meeting.",
            Font(italic=True, color=GREY, size=9),
            before=14,
        )

    # -- one case ------------------------------------------------------------------------
    def case(self, number: int, case: PackCase) -> None:
        r = case.referral
        referrer = r.get("referrer") or {}
        child = r.get("child") or {}
        self.heading(f"Case {number}: {case.ref}", 1, page_break=True)
        self.text(
            f"Referred by {text_of(referrer.get('agency')) or 'an agency not named'}"
            f" on {uk_date(r.get('referral_date')) or 'a date not given'}. "
            f"Age of the child on the day of the meeting: {age_text(r, self.meeting)}.",
            Font(color=GREY),
        )
        if case.duplicates:
            self.text(
                f"Possible duplicate: the same child's name and date of birth are "
                f"in {', '.join(case.duplicates)}. The CSCP team will confirm "
                "whether these are one referral.",
                Font(bold=True, color=RED),
            )
        self.heading("Referrer", 2)
        self.pairs(
            [
                ("Name", referrer.get("name")),
                ("Role", referrer.get("role")),
                ("Agency", referrer.get("agency")),
                ("Email", referrer.get("email")),
                ("Date of referral", uk_date(r.get("referral_date"))),
            ]
        )
        self.heading("Child or young person", 2)
        self.pairs(
            [
                ("Full name", child.get("full_name")),
                ("Date of birth", uk_date(child.get("dob"))),
                ("Date of death", uk_date(child.get("dod")) or "not applicable"),
                ("Home address", child.get("address")),
                ("Ethnicity", child.get("ethnicity")),
                ("Gender at birth", child.get("gender_at_birth")),
                ("Identifies with the sex registered at birth", child.get("gender_same_as_birth")),
                ("SEND", child.get("send")),
                ("NHS number", child.get("nhs_number")),
                ("CRS number", child.get("crs_number")),
                ("PNC number", child.get("pnc_number")),
            ]
        )
        self.heading("Family, significant others and household", 2)
        members = r.get("household") or []
        if members:
            table = self.table(
                (5.0, 4.5, 3.0, 4.5), ["Name", "Relationship to child", "Gender", "Date of birth"]
            )
            for m in members:
                table.row(
                    [
                        text_of(m.get("name")),
                        text_of(m.get("relationship")),
                        text_of(m.get("gender")),
                        uk_date(m.get("dob")),
                    ]
                )
            self.spacer()
        else:
            self.paragraphs(None, empty="No household members given on the form.")
        self.pairs([("Household address", r.get("household_address"))])
        self.heading("Incident details and history", 2)
        self.paragraphs(r.get("incident_details"))
        self.heading("Anticipated learning and questions suggested", 2)
        self.paragraphs(r.get("anticipated_learning"))
        self.heading("Themes", 2)
        self.paragraphs(text_of(r.get("themes")), empty="No themes ticked on the form.")
        self.outcome_table(r)

    def outcome_table(self, referral: Referral) -> None:
        """The form's outcome section, blank (or as recorded), kept together on one page."""
        outcome = referral.get("outcome") or {}
        single = outcome.get("single_agency") or {}
        multi = outcome.get("multi_agency") or {}
        sprg = referral.get("sprg") or {}
        self.heading("SPRG outcome (to be completed at the meeting)", 2)
        self.text(
            "Please state below which of the following was agreed by SPRG as an outcome for this referral:",
            keep=True,
        )
        decisions = [
            ("Decision made to conduct a single agency Learning Inquiry", single),
            ("Decision made to conduct a multi-agency Learning Inquiry", multi),
        ]
        spanned = [
            (
                "Methodology (including whether parents/child involved)",
                text_of(outcome.get("methodology")),
                2.6,
            ),
            ("Date for final report at SPRG", uk_date(outcome.get("final_report_date")), 1.0),
            ("Any other actions (with name/date)", text_of(outcome.get("other_actions")), 2.6),
        ]
        rows = [
            [text_of(part.get(key)) for key in ("decision", "agencies", "grounds")] for _l, part in decisions
        ]
        blank = not any(v for row in rows for v in row) and not any(v for _l, v, _h in spanned)
        if blank and self._blank_outcome is not None:  # most cases: the same empty table
            self.add(deepcopy(self._blank_outcome))
        else:
            table = self.table(
                (5.2, 1.3, 4.0, 6.5), ["Outcome", "Y/N", "Which Agency(s)", "Grounds for decision:"]
            )
            kept = {"label_cols": 1, "label_fill": LABEL_FILL, "keep": True}
            for (label, _part), values in zip(decisions, rows, strict=True):
                table.row([label, *values], height_cm=2.6, **kept)  # type: ignore[arg-type]
            for label, value, height in spanned:
                table.row([label, value, "", ""], height_cm=height, span_from=1, **kept)  # type: ignore[arg-type]
            if blank:
                self._blank_outcome = deepcopy(table.element)
        meeting = uk_date(sprg.get("meeting_date")) or uk_date(self.meeting)
        chair = text_of(sprg.get("chair")) or self.chair or ""
        for label, value in (("Date of SPRG Meeting:", meeting), ("Chair of SPRG Meeting:", chair)):
            para = self.add(paragraph(keep=label.startswith("Date"), before=8))
            run(para, label + " ", Font(bold=True))
            run(para, value or "." * 60)

    def build(self, cases: Sequence[PackCase]) -> bytes:
        self.cover(cases)
        for number, case in enumerate(cases, start=1):
            self.case(number, case)
        section = self.doc.element.body.sectPr
        for element in self.body:
            section.addprevious(element)
        buffer = io.BytesIO()
        self.doc.save(buffer)
        return buffer.getvalue()


def build_pack(meeting: date, cases: Sequence[PackCase], *, chair: str | None, compiled_on: date) -> bytes:
    """The agenda pack as .docx bytes (in memory: nothing is written anywhere)."""
    return PackBuilder(meeting, chair, compiled_on).build(cases)


def write_pack(out_dir: Path, data: bytes, *, pdf: bool = True) -> list[Path]:
    """Write ``agenda.docx`` and, where LibreOffice is installed, ``agenda.pdf``: each
    mode 0600 from its first byte, replacing any file (or link) of that name. A folder
    that is a symbolic link is refused: the pack would land wherever it points."""
    refuse_link(out_dir, "--out")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [write_private(out_dir / "agenda.docx", data)]
    target = written[0]
    if pdf:
        converted = to_pdf(target)
        if converted is not None:
            written.append(converted)
    return written
