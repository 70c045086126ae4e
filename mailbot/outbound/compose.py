"""Outbound mail: rendering the templates and composing the message.

Every reply follows INTERFACE.md's conventions: its own subject with the case tags (the
inbound subject and body are never quoted: they often name the child), addressed only
to the sender of the message it answers, threaded with In-Reply-To/References (msg-ids
never encoded, whatever their length) and Outlook's Thread-Index/Thread-Topic
(``mailbot.mail.thread_headers``), and marked ``Auto-Submitted: auto-replied`` so other
robots do not answer it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from mailbot.mail.thread_headers import set_thread_headers
from mailbot.outbound.wire import BOT_NAME, Rendered


def template_env() -> Environment:
    """One environment per process (``build_app``): each template is compiled once and
    kept (``auto_reload`` off: the package's templates do not change while it runs)."""
    return Environment(
        loader=PackageLoader("mailbot", "templates"),
        auto_reload=False,
        cache_size=-1,
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=False,
    )


def render(env: Environment, template: str, subject: str, **context: Any) -> Rendered:
    text = env.get_template(f"mail/{template}.txt.j2").render(subject=subject, **context)
    html = env.get_template(f"mail/{template}.html.j2").render(subject=subject, **context)
    return Rendered(subject, text, html)


def make_message_id(kind: str, refs: list[str], now: datetime, domain: str) -> str:
    """Stable once made: it is stored with the outbox row and reused on every resend.

    At most three references are named (a reply about fifteen cases would otherwise make
    an id longer than the outbox column); the outbox row keeps them all.
    """
    words = [*refs[:3], f"and{len(refs) - 3}more"] if len(refs) > 3 else refs
    stem = ".".join([kind, *words, now.strftime("%Y%m%dT%H%M%SZ"), secrets.token_hex(4)])
    return f"<{stem}@{domain}>"


def tag_subject(refs: list[str], text: str) -> str:
    tags = " ".join(f"[{ref}]" for ref in refs)
    return f"{tags} {text}" if tags else text


def compose(
    *,
    rendered: Rendered,
    sender: str,
    recipient: str,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    thread_index: str | None = None,
    auto: str = "auto-replied",
) -> EmailMessage:
    """The finished message. ``in_reply_to``/``references``/``thread_index`` are the
    Message-ID, References and Thread-Index of the message this one follows.

    Used for mail with attachments; mail without is written by ``outbound.wire``'s
    ``compose_wire``, which writes these same bytes without the email package's costly
    header objects (``tests/outbound/test_wire.py`` holds the two together)."""
    msg = EmailMessage()
    msg["From"] = formataddr((BOT_NAME, sender))
    msg["To"] = recipient
    msg["Subject"] = rendered.subject  # before the thread headers: Thread-Topic comes from it
    msg["Date"] = format_datetime(date)
    set_thread_headers(
        msg,
        message_id=message_id,
        date=date,
        in_reply_to=in_reply_to,
        references=references or [],
        parent_thread_index=thread_index,
    )
    msg["Auto-Submitted"] = auto
    msg["X-Auto-Response-Suppress"] = "All"
    if auto != "no":  # a person's message (``Auto-Submitted: no``) is not bulk mail
        msg["Precedence"] = "bulk" if auto == "auto-generated" else "auto_reply"
    msg.set_content(rendered.text, cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return msg
