"""Every mail template renders (StrictUndefined catches a missing value) and reads well."""

from __future__ import annotations

from importlib import resources

import pytest
from helpers.outbound_mail import CONTEXTS

from mailbot.intake.actions.acknowledge import CaseNote
from mailbot.outbound.compose import render, template_env

URGENT = "If a child is at immediate risk of harm, call 999."

#: Mail the bot starts itself, to the team or the SPRG: no urgent-contact line needed.
TO_COLLEAGUES = {
    "alert",
    "serious_incident_alert",
    "sprg_action_reminder",
    "sprg_digest",
    "sprg_final_report_reminder",
    "team_digest",
    "sprg_decision_recorded",
    "sprg_decision_notice",
}


def test_every_mail_template_is_rendered_here() -> None:
    folder = resources.files("mailbot") / "templates" / "mail"
    names = {p.name.removesuffix(".txt.j2") for p in folder.iterdir() if p.name.endswith(".txt.j2")}
    htmls = {
        p.name.removesuffix(".html.j2")
        for p in folder.iterdir()
        if p.name.endswith(".html.j2") and not p.name.startswith("_")
    }
    assert names == htmls == set(CONTEXTS)


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_template_renders_text_and_html(name: str) -> None:
    rendered = render(
        template_env(), name, "[COC-2026-0001] Subject <b>", urgent_contact=URGENT, **CONTEXTS[name]
    )
    assert rendered.text.strip() and rendered.html.strip()
    assert "<html" in rendered.html and "Subject &lt;b&gt;" in rendered.html  # escaped
    assert "{{" not in rendered.text and "{%" not in rendered.html
    assert "\n\n\n" not in rendered.text  # no ragged blank lines
    if name not in TO_COLLEAGUES:
        assert URGENT in rendered.text and URGENT in rendered.html


def test_missing_fields_are_listed_in_the_forms_wording() -> None:
    note = CaseNote(
        "COC-2026-0004",
        "received - further information needed",
        missing=["Your Role", "the child's Date of Birth"],
        queries=["The NHS number does not pass its check digit."],
    )
    rendered = render(
        template_env(),
        "acknowledgement",
        "S",
        urgent_contact=URGENT,
        cases=[note],
        any_missing=True,
        any_manual=False,
        updated=False,
    )
    for line in (
        "  - Your Role",
        "  - the child's Date of Birth",
        "  - The NHS number does not pass its check digit.",
    ):
        assert line in rendered.text
    assert "reply to this e-mail with the corrected form" in rendered.text
    assert "<li" in rendered.html and "the child&#39;s Date of Birth" in rendered.html


def test_a_missing_value_is_an_error_not_a_blank() -> None:
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        render(template_env(), "request_form", "S", urgent_contact=URGENT, ref="COC-2026-0005")


def test_several_forms_say_which_reference_is_which_form() -> None:
    notes = [
        CaseNote("COC-2026-0007", "received - complete", position="the first form"),
        CaseNote("COC-2026-0008", "received - complete", position="the second form"),
    ]
    rendered = render(
        template_env(),
        "acknowledgement",
        "S",
        urgent_contact=URGENT,
        cases=notes,
        any_missing=False,
        any_manual=False,
        updated=False,
    )
    assert "COC-2026-0007 (the first form), COC-2026-0008 (the second form)" in rendered.text


def test_an_updated_form_is_thanked_as_such() -> None:
    note = CaseNote("COC-2026-0002", "updated - complete")
    rendered = render(
        template_env(),
        "acknowledgement",
        "S",
        urgent_contact=URGENT,
        cases=[note],
        any_missing=False,
        any_manual=False,
        updated=True,
    )
    assert "Thank you for the updated form for COC-2026-0002. The referral is now complete." in rendered.text
    assert "Its reference is" not in rendered.text
