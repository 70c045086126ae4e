"""Outlook's own containers: TNEF (``winmail.dat``) and Outlook items (``.msg``).

Outlook sends rich text as TNEF, so the form travels inside ``winmail.dat`` and the
message seems to carry no form; a referral forwarded from Outlook by drag and drop is
an Outlook item (``.msg``, an OLE compound file) with the form inside it. Both are
recognised by their bytes and opened here, as pure functions over bytes, so the files
inside are read as if attached directly.

TNEF is read by ``tnefparse``; an Outlook item by ``olefile`` (its MAPI properties are
named streams: ``__substg1.0_PPPPTTTT``), which also keeps the sender of the item, the
person who first sent the form.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from mailbot.forms.safezip import OLE_MAGIC

TNEF_MAGIC = b"\x78\x9f\x3e\x22"
_MSG_MARK = "__substg1.0_".encode("utf-16-le")
#: Files taken out of one container.
MAX_FILES = 50
_TEXT_LIMIT = 200_000

# MAPI properties (tag + type) of an Outlook item, as stream names.
_SENDER_SMTP = "__substg1.0_5D01001F"
_SENDER_EMAIL = "__substg1.0_0C1F001F"
_SENT_REPRESENTING = "__substg1.0_0065001F"
_BODY = "__substg1.0_1000001F"
_ATTACH_DATA = "__substg1.0_37010102"
_ATTACH_NAMES = ("__substg1.0_3707001F", "__substg1.0_3704001F", "__substg1.0_3001001F")


@dataclass
class Contents:
    """What a container held: its files, its sender (Outlook items) and its text."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    sender: str | None = None
    text: str = ""


def is_tnef(data: bytes) -> bool:
    return data.startswith(TNEF_MAGIC)


def is_outlook_item(data: bytes) -> bool:
    """An OLE compound file holding MAPI property streams: an Outlook ``.msg``."""
    return data.startswith(OLE_MAGIC) and _MSG_MARK in data


def read_tnef(data: bytes) -> Contents | None:
    """The files inside a TNEF blob; None when it cannot be read."""
    from tnefparse import TNEF

    try:
        tnef = TNEF(data, do_checksum=False)
        files: list[tuple[str, bytes]] = []
        for attachment in tnef.attachments[:MAX_FILES]:
            body = attachment.data
            if isinstance(body, bytes) and body:
                files.append((_text(attachment.long_filename()) or "attachment", body))
        text = _text(tnef.body)
    except Exception:  # noqa: BLE001 - tnefparse fails in many ways on damaged input
        return None
    return Contents(files=files, text=text[:_TEXT_LIMIT])


def read_outlook_item(data: bytes) -> Contents | None:
    """The attachments, sender and plain body of an Outlook item; None when unreadable."""
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            found = Contents(text=_stream_text(ole, [_BODY])[:_TEXT_LIMIT])
            for name in (_SENDER_SMTP, _SENDER_EMAIL, _SENT_REPRESENTING):
                address = _stream_text(ole, [name]).strip()
                if "@" in address and not address.startswith("/"):
                    found.sender = address.lower()
                    break
            storages = sorted(
                {
                    path[0]
                    for path in ole.listdir(streams=True, storages=True)
                    if path and path[0].startswith("__attach_version1.0_#")
                }
            )
            for storage in storages[:MAX_FILES]:
                if not ole.exists(f"{storage}/{_ATTACH_DATA}"):
                    continue  # an embedded item or an OLE object: not a file
                content = ole.openstream(f"{storage}/{_ATTACH_DATA}").read()
                names = [_stream_text(ole, [storage, n]) for n in _ATTACH_NAMES]
                found.files.append((next((n for n in names if n), "attachment"), content))
    except Exception:  # noqa: BLE001 - olefile fails in many ways on damaged input
        return None
    return found


def _stream_text(ole: object, path: list[str]) -> str:
    if not ole.exists("/".join(path)):  # type: ignore[attr-defined]
        return ""
    raw = ole.openstream("/".join(path)).read(_TEXT_LIMIT * 2)  # type: ignore[attr-defined]
    return str(raw.decode("utf-16-le", "replace").split("\x00", 1)[0])


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\x00").strip()
    return str(value or "").strip("\x00").strip()
