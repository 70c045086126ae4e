"""``mailbot demo``: the bundled sample referrals through the whole bot, once.

The samples are synthetic (every person in them is invented). The follow-up sample is
a reply to the "further information needed" message; its case tag and threading are
rewritten to the reference and Message-ID the bot actually gave the first referral, so
the demo works in any year and on a store that already has cases. Running the demo
again delivers the same messages again: they are recognised and nothing is duplicated.
"""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from importlib import resources
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from mailbot.app import App
from mailbot.cases import queue as case_queue
from mailbot.cases import views
from mailbot.cases.status import CaseStatus
from mailbot.cli import text as textout
from mailbot.intake.poller import Poller
from mailbot.sprg.demo import build_demo_meeting
from mailbot.store.models import Outbox

FOLLOW_UP = "mail-03-followup-corrected-form.eml"
ASKS_FOR_MORE = "mail-02-referral-incomplete.eml"


def samples() -> list[tuple[str, bytes]]:
    folder = resources.files("mailbot") / "demo_data"
    return sorted((item.name, item.read_bytes()) for item in folder.iterdir() if item.name.endswith(".eml"))


def _thread_follow_up(raw: bytes, ref: str, reply_id: str | None) -> bytes:
    text = raw.decode("utf-8", "surrogateescape")
    text = re.sub(r"\[COC-\d{4}-\d{4}\]", f"[{ref}]", text)
    if reply_id:
        text = re.sub(r"<ack\.COC-[^>]+>", reply_id, text)
    return text.encode("utf-8", "surrogateescape")


def _first_reply_for(app: App, subject_ref: str) -> str | None:
    with app.db.session() as session:
        for row in session.scalars(select(Outbox).where(Outbox.kind == "reply").order_by(Outbox.created_at)):
            if subject_ref in row.case_refs:
                return row.message_id
    return None


def run_demo(app: App, out: TextIO) -> None:
    app.intake.ensure_folders()
    poller = Poller(app)
    batch = [(name, raw) for name, raw in samples() if name != FOLLOW_UP]
    follow_up = dict(samples())[FOLLOW_UP]
    out.write(f"Delivering {len(batch)} sample messages to {app.settings.mailbox_url}\n")
    for _name, raw in batch:
        app.mailbox.append(raw)
    refs_by_message: dict[str, list[str]] = {}

    def note(handled: object) -> None:
        pass

    first = poller.cycle(on_message=note)
    out.write(textout.cycle_summary(first) + "\n")
    # Which case did the incomplete sample open? Find it by the sample's Message-ID.
    wanted = BytesParser(policy=policy.default).parsebytes(dict(batch)[ASKS_FOR_MORE])
    with app.db.session() as session:
        for item in views.messages(session, app.vault):
            refs_by_message[item.message_id or ""] = item.case_refs
    refs = refs_by_message.get(str(wanted["Message-ID"]).strip(), [])
    if refs:
        out.write(f"The referrer of {refs[0]} replies with a corrected form...\n")
        app.mailbox.append(_thread_follow_up(follow_up, refs[0], _first_reply_for(app, refs[0])))
        second = poller.cycle()
        out.write(textout.cycle_summary(second) + "\n")
    pack_dir = app.settings.var_dir / "demo-meeting"
    written = build_demo_meeting(app, pack_dir)
    with app.db.session() as session:
        scheduled = case_queue.queue(session, app.vault, app.clock.now(), CaseStatus.SCHEDULED)
    with app.db.session() as session:
        items = case_queue.queue(session, app.vault, app.clock.now())
    out.write("\nThe CSCP queue\n")
    out.write(textout.queue_table(items))
    outbox_url = app.settings.outbound_url
    out.write(f"\nReplies went to {outbox_url}")
    if outbox_url.startswith("outbox:"):
        folder = Path(outbox_url[len("outbox:") :])
        folder = folder if folder.is_absolute() else app.settings.base_dir / folder
        files = sorted(folder.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        out.write(f" ({len(files)} files in {folder})\n")
        for path in files[-12:]:
            with path.open("rb") as handle:
                head = BytesParser(policy=policy.default).parse(handle, headersonly=True)
            out.write(f"  {head['Subject']}  (to {head['To']})\n")
    else:
        out.write("\n")
    meeting = scheduled[0].meeting_date if scheduled else None
    if meeting is not None:
        out.write(
            f"\nSPRG meeting on {meeting:%A} {meeting.day} {meeting:%B %Y}: "
            f"{len(scheduled)} case(s) on the agenda; the pack is in\n"
        )
        for path in written:
            out.write(f"  {path}\n")
    out.write(
        "\nTry: mailbot show REF   mailbot messages   mailbot quarantine   mailbot agenda --meeting DATE\n"
    )
