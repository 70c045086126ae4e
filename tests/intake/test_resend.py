"""The same referral sent again (issue 14): one case, however many Message-IDs, and
whatever the file format; another referrer about the same child is a new case."""

from __future__ import annotations

from helpers import wrapped_mail as w
from helpers.hostile import form_bytes
from helpers.pipeline import handled, outbox_messages, poll

from mailbot.app import App
from mailbot.cases import views

DSL = "p.testington@exampleton-primary.example.org"
PDF = ("COC form.pdf", "application/pdf")


def referral(
    n: int, *, sender: str = DSL, pdf: bool = False, subject: str = "Case of concern referral"
) -> bytes:
    name, ctype = PDF if pdf else ("COC form.docx", w.DOCX)
    data = form_bytes("coc-09-complete-flattened.pdf" if pdf else "coc-01-complete.docx")
    return w.message(
        sender=sender,
        subject=subject,
        n=n,
        text="Please find attached a case of concern referral.",
        files=[(name, ctype, data)],
    ).as_bytes()


def test_twenty_message_ids_open_one_case(app: App) -> None:
    for n in range(20):
        app.mailbox.append(referral(n, pdf=n % 2 == 1))  # Word and PDF copies alike
    poll(app)
    rows = list(handled(app).values())
    assert len(rows) == 20
    refs = {ref for row in rows for ref in row["case_refs"]}
    assert len(refs) == 1
    (ref,) = refs
    assert sorted(r["action"] for r in rows) == ["accept"] + ["merge_followup"] * 19
    again = [m for m in outbox_messages(app) if "already received" in str(m["Subject"])]
    assert len(again) <= 19 and again  # the reply limits cap how many are answered
    text = again[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"already been received under {ref}" in text


def test_a_changed_field_or_another_sender_is_a_new_case(app: App) -> None:
    from helpers.forms_variants import Form

    app.mailbox.append(referral(1))
    app.mailbox.append(referral(2, sender="other.dsl@exampleton-primary.example.org"))
    other_form = Form().fill().to_bytes()
    app.mailbox.append(
        w.message(
            sender=DSL, n=3, text="A referral.", files=[("COC form.docx", w.DOCX, other_form)]
        ).as_bytes()
    )
    poll(app)
    rows = list(handled(app).values())
    assert [r["action"] for r in rows] == ["accept", "accept", "accept"]
    with app.db.session() as session:
        second = views.show(session, app.vault, rows[1]["case_refs"][0], from_address="x")
        assert second.as_json()["possible_duplicates"]  # the same child, another referrer


def test_after_the_window_the_same_referral_is_a_new_case(app: App) -> None:
    app.mailbox.append(referral(1))
    poll(app)
    app.clock.advance(days=15)  # type: ignore[attr-defined]
    app.mailbox.append(referral(2))
    poll(app)
    assert [r["action"] for r in handled(app).values()] == ["accept", "accept"]


def test_a_resend_mark_is_the_same_referral_and_a_new_subject_a_possible_duplicate(app: App) -> None:
    app.mailbox.append(referral(1))
    app.mailbox.append(referral(2, subject="RESEND: Fw: case of concern  referral"))
    app.mailbox.append(referral(3, pdf=True, subject="Case of concern referral (PDF copy)"))
    poll(app)
    rows = list(handled(app).values())
    assert [r["action"] for r in rows] == ["accept", "merge_followup", "accept"]
    assert rows[1]["case_refs"] == rows[0]["case_refs"]
    with app.db.session() as session:
        third = views.show(session, app.vault, rows[2]["case_refs"][0], from_address="x")
        assert third.as_json()["possible_duplicates"] == rows[0]["case_refs"]
