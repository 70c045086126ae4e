"""The reader opens what public bodies wrap a referral in, and stays safe on broken
wrappings: a blob that cannot be opened stays a file, nothing raises, work is bounded."""

from __future__ import annotations

import time

from helpers import wrapped_mail as w
from helpers.cfb import build_cfb
from helpers.hostile import form_bytes

from mailbot.mail.reader import read_message
from mailbot.mail.smime import UNCHECKED, VALID, load_smime_key
from mailbot.mail.unwrap import MAX_WRAP_DEPTH, first_part, wrapping_from_json


def kinds(raw: bytes, **kw) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(a.filename, a.sniffed) for a in read_message(raw, **kw).attachments]


def test_each_wrapping_gives_the_form_as_if_attached_bare() -> None:
    form = [("COC referral form.docx", "docx")]
    key = load_smime_key(w.identity_pem())
    for raw in (
        w.smime_detached(),
        w.smime_opaque(),
        w.with_winmail(),
        w.with_outlook_item(),
        w.forwarded_as_attachment(),
    ):
        assert kinds(raw) == form
    assert kinds(w.smime_encrypted(), smime_key=key) == form
    assert kinds(w.smime_encrypted()) == [("smime.p7m", "unknown")]  # kept for the team


def test_signed_note_is_the_body_and_the_signature_part_is_not_a_file() -> None:
    msg = read_message(w.smime_detached())
    assert msg.text.startswith("Please find attached a case of concern referral.")
    assert msg.wrapping.signature == VALID
    assert all(a.filename != "smime.p7s" for a in msg.attachments)


def test_forwarders_are_kept_apart_from_the_notes() -> None:
    msg = read_message(w.with_outlook_item())
    assert msg.wrapping.forwarded_from == ["pat.original@health.example.nhs.uk"]
    assert not any("@" in note for note in msg.wrapping.notes)  # notes are stored in clear


def test_broken_wrappings_stay_files_and_nothing_raises() -> None:
    junk = b"\x30\x82\x10\x00" + bytes(range(256)) * 16
    cases = [
        ("smime.p7m", "application/pkcs7-mime", junk),
        ("winmail.dat", "application/ms-tnef", b"\x78\x9f\x3e\x22" + b"\xff" * 500),
        (
            "item.msg",
            "application/vnd.ms-outlook",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "__substg1.0_".encode("utf-16-le") * 40,
        ),
    ]
    for name, ctype, data in cases:
        msg = read_message(w.message(files=[(name, ctype, data)]).as_bytes())
        assert [a.filename for a in msg.attachments] == [name]
    signed_junk = w.smime_detached().replace(b"MII", b"XXX", 1)  # a broken signature blob
    assert read_message(signed_junk).wrapping.signature == UNCHECKED


def test_wrappings_inside_wrappings_stop_at_the_depth_cap() -> None:
    blob = form_bytes()
    for depth in range(MAX_WRAP_DEPTH + 3):
        blob = w.tnef([(f"level{depth}.dat", blob)])
    started = time.monotonic()
    msg = read_message(w.message(files=[("winmail.dat", "application/ms-tnef", blob)]).as_bytes())
    assert time.monotonic() - started < 2
    assert len(msg.attachments) == 1 and msg.attachments[0].sniffed != "docx"
    assert sum("TNEF" in n for n in msg.wrapping.notes) == 1  # one note, however deep


def test_many_files_in_one_outlook_item_are_capped() -> None:
    streams = {f"__attach_version1.0_#{n:08X}/__substg1.0_37010102": b"x" * 10 for n in range(200)}
    streams["__substg1.0_0037001F"] = "s".encode("utf-16-le")
    item = build_cfb(streams)
    msg = read_message(w.message(files=[("a.msg", "application/vnd.ms-outlook", item)]).as_bytes())
    assert 0 < len(msg.attachments) <= 100


def test_first_part_is_the_bytes_as_they_travelled() -> None:
    raw = (
        b'Content-Type: multipart/signed; boundary="b"\r\n\r\npreamble\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b\r\nsig\r\n--b--\r\n"
    )
    assert first_part(raw, "b") == b"Content-Type: text/plain\r\n\r\nhello"
    assert first_part(raw, "missing") is None


def test_wrapping_travels_as_checked_json() -> None:
    import dataclasses

    import pytest

    wrapping = read_message(w.with_outlook_item()).wrapping
    assert wrapping_from_json(dataclasses.asdict(wrapping)) == wrapping
    with pytest.raises(ValueError):
        wrapping_from_json({"notes": "x", "forwarded_from": [], "encrypted": False})


def test_encrypted_message_is_rebuilt_around_its_decrypted_body() -> None:
    from mailbot.mail.smime import decrypt_message

    key = load_smime_key(w.identity_pem())
    for raw in (w.smime_encrypted(), w.smime_encrypted().replace(b"\r\n", b"\n")):
        opened = decrypt_message(raw, key)
        assert opened is not None
        msg = read_message(opened)
        assert msg.sender == "sam.signer@police.example.net"
        assert msg.message_id == read_message(raw).message_id
        assert [a.sniffed for a in msg.attachments] == ["docx"]
    assert decrypt_message(w.smime_opaque(), key) is None  # signed, not encrypted
    assert decrypt_message(w.with_winmail(), key) is None
    other = w.identity("Other Body", "other@example.net")[0]
    assert decrypt_message(w.smime_encrypted(to=other), key) is None


def test_a_signed_message_forwarded_inside_another_is_never_called_altered() -> None:
    outer = w.message(sender="fran.forwarder@council.example.gov.uk", n=60, text="FYI")
    from email import policy
    from email.parser import BytesParser

    inner = w.smime_detached(tamper=True)  # altered: but nested, so not provable here
    outer.add_attachment(BytesParser(policy=policy.default).parsebytes(inner))
    msg = read_message(outer.as_bytes())
    assert msg.wrapping.signature in (VALID, UNCHECKED)
    assert [a.sniffed for a in msg.attachments] == ["docx"]
