"""Driving the whole bot in a test: deliver samples, poll, read what it handled and sent."""

from __future__ import annotations

import json
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from helpers.bot import EMAILS, eml
from mailbot.app import App
from mailbot.cases import views
from mailbot.intake.poller import Poller
from mailbot.mail.reader import InboundMessage

#: The first line of a message a test makes fail (``dies_on_poison``, a core bug).
POISON = b"X-Test-Poison: yes\r\n"


def outbox_messages(app: App) -> list[EmailMessage]:
    folder = Path(app.settings.outbound_url[len("outbox:") :])
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]  # type: ignore[misc]


def deliver(app: App, *names: str) -> None:
    for name in names:
        app.mailbox.append(eml(name))


def deliver_raw(app: App, messages: list[bytes]) -> None:
    for raw in messages:
        app.mailbox.append(raw)
        time.sleep(0.002)  # Maildir names carry the time: keep the delivery order


def dies_on_poison(app: App) -> None:
    """The process dies (as under SIGKILL, short of killing pytest) mid-message."""
    read = app.intake.reader

    def reader(raw: bytes) -> InboundMessage:
        if raw.startswith(POISON):
            raise KeyboardInterrupt("killed while reading")
        return read(raw)

    app.intake.reader = reader


def poll(app: App) -> None:
    Poller(app).cycle()


def handled(app: App) -> dict[str, dict]:
    with app.db.session() as session:
        return {m.message_id: m.as_json() for m in views.messages(session, app.vault)}


def message_id(name: str) -> str:
    return str(BytesParser(policy=policy.default).parsebytes(eml(name))["Message-ID"]).strip()


def expected(name: str) -> dict:
    return json.loads((EMAILS / f"{name}.expected.json").read_text())


def replies_to(app: App, name: str) -> list[EmailMessage]:
    mid = message_id(name)
    return [m for m in outbox_messages(app) if str(m.get("In-Reply-To", "")).strip() == mid]
