"""A stored message as the team reads it: plain text first, HTML only through nh3."""

from __future__ import annotations

import time

from helpers.bot import eml
from helpers.hostile import attachment_part, message

from mailbot.mail.body_view import message_body, sanitise_html

HOSTILE_HTML = (
    "<html><head><title>x</title><style>p{color:red}</style>"
    '<script>alert(1)</script></head><body onload="steal()">'
    '<p style="color:red">The child has since <b>moved to Sutton</b>.</p>'
    '<img src="https://tracker.example.net/open.gif?id=42" alt="">'
    '<a href="javascript:alert(2)">click</a> <a href="https://example.org/x" target="_blank">'
    'site</a><iframe src="https://evil.example/"></iframe>'
    '<form action="https://evil.example/"><input name="p"></form>'
    '<div background="https://tracker.example.net/bg.gif">bg</div></body></html>'
)


def test_plain_text_is_shown_as_written() -> None:
    body = message_body(eml("mail-01-referral-complete"))
    assert "Designated Safeguarding Lead" in body.text
    assert body.html is None
    assert [f.filename for f in body.files] == ["coc-01-complete.docx"]


def test_html_only_mail_is_reduced_to_safe_markup() -> None:
    body = message_body(message(html=HOSTILE_HTML))
    assert body.text == ""
    html = body.html or ""
    assert "moved to Sutton" in html and "<b>moved to Sutton</b>" in html
    for bad in (
        "<script",
        "alert(",
        "<img",
        "tracker.example.net",
        "<style",
        "style=",
        "onload",
        "javascript:",
        "<iframe",
        "<form",
        "<input",
        "evil.example",
        'target="_blank"',
    ):
        assert bad not in html, bad
    assert 'rel="noopener noreferrer nofollow"' in html


def test_files_are_listed_without_being_opened() -> None:
    raw = message(
        text="Covering note.\r\n",
        parts=[attachment_part("notes\x07.pdf", "application/pdf", b"%PDF-1.4 x" * 100)],
    )
    body = message_body(raw)
    assert body.text.strip() == "Covering note."
    assert [(f.filename, f.size) for f in body.files] == [("notes .pdf", 1000)]


def test_broken_and_huge_input_is_bounded() -> None:
    assert message_body(b"\x00\xff not a message").text is not None
    nested = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n" + b"--a\r\n" * 200_000
    started = time.perf_counter()
    body = message_body(nested)
    assert time.perf_counter() - started < 2
    assert body.partial
    for html in (
        "<div>" * 100_000 + "deep" + "</div>" * 100_000,  # nh3 alone: 80 s
        "<p>a</p>" * 200_000,
        "<table><tr><td>" * 50_000,
        "<a href=x>" * 100_000,
    ):
        started = time.perf_counter()
        sanitise_html(html)
        assert time.perf_counter() - started < 2, html[:20]
