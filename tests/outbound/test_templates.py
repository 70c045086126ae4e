"""Every mail template renders (StrictUndefined catches a missing value) and reads well."""

from __future__ import annotations

from importlib import resources

import pytest

from mailbot.intake.actions.acknowledge import CaseNote
from mailbot.outbound.compose import render, template_env
from mailbot.sprg.meeting_digest import DigestLine

URGENT = "If a child is at immediate risk of harm, call 999."

CONTEXTS = {
    "acknowledgement": dict(
        cases=[CaseNote("COC-2026-0001", "received - complete")],
        any_missing=False,
        any_manual=False,
        updated=False,
    ),
    "request_form": dict(ref="COC-2026-0002", missing=["Your Name", "the child's Full Name"]),
    "sealed_received": dict(ref="COC-2026-0004", how="portal"),
    "already_received": dict(ref="COC-2026-0001"),
    "reject_attachment": dict(ref=None, reasons=["The file needs a password to open."]),
    "alert": dict(
        text="A message is held.",
        ref="COC-2026-0003",
        message_row_id="ab12",
        reason="dmarc=fail",
        folder="Quarantine",
    ),
    "chaser": dict(
        ref="COC-2026-0002",
        received="12 October 2026",
        missing=["Your Role"],
        queries=["The date of birth is in the future."],
        whole_form=False,
    ),
    "sprg_decision_notice": dict(ref="COC-2026-0001", meeting="17/12/2026", single="Y", multi="N"),
    "sprg_decision_recorded": dict(ref="COC-2026-0001"),
    "sprg_digest": dict(
        meeting="Thursday 17 December 2026",
        meeting_short="17/12/2026",
        count=2,
        chair="Chair of the Review Group",
        attached=False,
        cases=[
            DigestLine("COC-2026-0001", "Police", "5-10", "Neglect"),
            DigestLine("COC-2026-0002", "Health", "11-15", ""),
        ],
        overdue_actions=[
            (
                "Health",
                [{"ref": "COC-2026-0001", "due": "05/01/2027", "text": "Audit the discharge checklist"}],
            )
        ],
    ),
    "sprg_final_report_reminder": dict(
        ref="COC-2026-0001", due="05/01/2027", when="in 14 days", meeting="17/12/2026"
    ),
    "team_digest": dict(
        today="12 October 2026",
        weekday="Monday",
        counts=[("waiting for referrer", 2), ("ready to schedule", 1)],
        total=3,
        to_enter=[],
        to_schedule=[{"ref": "COC-2026-0003", "days": 2, "overdue": False}],
        flagged=[],
        overdue=[],
        held_messages=1,
        reminded=["COC-2026-0002"],
        waiting=[{"ref": "COC-2026-0002", "days": 8, "overdue": False}],
        chaser_days=7,
        clocks=[{"ref": "COC-2026-0004", "label": "Panel notification", "words": "due 04/01/2027 (overdue)"}],
    ),
    "serious_incident_alert": dict(
        ref="COC-2026-0004",
        aware="23/12/2026",
        clocks=[("Panel notification", "due 04/01/2027"), ("Rapid review", "due 25/01/2027")],
    ),
    "team_message": dict(ref="COC-2026-0001", text="Could you call us about it, please?"),
    "sprg_action_reminder": dict(
        ref="COC-2026-0001",
        due="05/01/2027",
        overdue=True,
        text="Review the discharge checklist",
        agency="Health",
        team="cscp-team@example.org",
    ),
}
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
