"""Wrapped mail (issue 14) read in the sandbox gives what reading in-process gives:
the files inside and what the wrapping was, carried back as checked JSON."""

from __future__ import annotations

from helpers import wrapped_mail as w

from mailbot.mail.reader import read_message
from mailbot.sandbox import AttachmentSandbox


def test_sandboxed_reading_opens_the_same_wrappings() -> None:
    with AttachmentSandbox() as box:
        for raw in (
            w.smime_detached(),
            w.smime_opaque(),
            w.with_winmail(),
            w.with_outlook_item(),
            w.forwarded_as_attachment(),
            w.smime_encrypted(),
        ):
            inside, here = box.read_message(raw), read_message(raw)
            assert inside.wrapping == here.wrapping and inside.wrapping.notes
            assert [(a.filename, a.sniffed, a.data) for a in inside.attachments] == [
                (a.filename, a.sniffed, a.data) for a in here.attachments
            ]
