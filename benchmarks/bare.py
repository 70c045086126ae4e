"""The bare baselines of issue 18, as a competent simple bot would write them.

``backlog``: one IMAP connection (imapclient) and one SMTP connection (smtplib). For each
message in INBOX: ``UID FETCH`` its bytes, parse it (``email``, ``policy.default``), open
each Word attachment with python-docx (``docx.Document``) and each PDF with pypdfium2
(open, and extract the text of every page: pdfium's own text extraction), send a
short reply with ``In-Reply-To``/``References`` unless the message is automatic
(``Auto-Submitted``, ``List-Id``, ``Precedence``, ``X-Autoreply``, a delivery report)
or carries no form, then ``UID MOVE`` it to ``Processed``. No database, no encryption,
no fsync. Prints one JSON line: what it did.

``idle``: one IMAP connection idling on a folder (``--folder``, INBOX); prints ``READY`` once in IDLE, then
``NOTICE <time.time()>`` for each new message the server announces (an ``EXISTS``
above the count it tracks through ``EXPUNGE``s), until it has seen ``--expect`` of them
or stdin closes.

    python benchmarks/bare.py backlog --imap-port P --smtp-port S [--user U --password W]
    python benchmarks/bare.py idle --imap-port P --expect N [--folder F]
"""

from __future__ import annotations

import argparse
import io
import json
import smtplib
import sys
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid

#: Long Message-IDs (Exchange: 70-120 characters) kept on one line, never RFC 2047-encoded.
REPLY_POLICY = policy.SMTP.clone(max_line_length=998)
AUTOMATIC_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}


def is_automatic(msg: EmailMessage) -> bool:
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    return (
        auto != "no"
        or msg.get("List-Id") is not None
        or str(msg.get("Precedence", "")).strip().lower() in AUTOMATIC_PRECEDENCE
        or msg.get("X-Autoreply") is not None
        or msg.get_content_type() == "multipart/report"
    )


def open_form(name: str, data: bytes) -> int:
    """Open the attachment as a form; how many characters/paragraphs it held."""
    if name.endswith(".docx"):
        import docx

        return len(docx.Document(io.BytesIO(data)).paragraphs)
    if name.endswith(".pdf"):
        import pypdfium2

        pdf = pypdfium2.PdfDocument(data)
        try:
            return sum(len(page.get_textpage().get_text_range()) for page in pdf)
        finally:
            pdf.close()
    return 0


def backlog(args: argparse.Namespace) -> int:
    from imapclient import IMAPClient

    started = time.perf_counter()
    parser = BytesParser(policy=policy.default)
    imap = IMAPClient(args.host, args.imap_port, ssl=False, timeout=60)
    imap.login(args.user, args.password)
    if not imap.folder_exists("Processed"):
        imap.create_folder("Processed")
    imap.select_folder("INBOX")
    smtp = smtplib.SMTP(args.host, args.smtp_port, timeout=60)
    handled = replied = forms = 0
    phases = dict.fromkeys(("fetch", "read", "reply", "move"), 0.0)
    clock = time.perf_counter
    for uid in imap.search("ALL"):
        t0 = clock()
        raw = imap.fetch([uid], ["RFC822"])[uid][b"RFC822"]
        t1 = clock()
        phases["fetch"] += t1 - t0
        msg = parser.parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        opened = 0
        for part in msg.iter_attachments():
            name = (part.get_filename() or "").lower()
            if name.endswith((".docx", ".pdf")):
                open_form(name, part.get_payload(decode=True))
                opened += 1
        forms += opened
        t2 = clock()
        phases["read"] += t2 - t1
        if opened and not is_automatic(msg):
            reply = EmailMessage(policy=REPLY_POLICY)
            their_id = str(msg["Message-ID"]).strip()
            reply["From"] = args.user
            reply["To"] = msg["From"]
            reply["Subject"] = "Referral received"
            reply["Message-ID"] = make_msgid(domain="example.org")
            reply["In-Reply-To"] = their_id
            reply["References"] = their_id
            reply["Auto-Submitted"] = "auto-replied"
            reply.set_content("Thank you for your referral. The CSCP team will be in touch.\n")
            smtp.send_message(reply)
            replied += 1
        t3 = clock()
        phases["reply"] += t3 - t2
        imap.move([uid], "Processed")
        phases["move"] += clock() - t3
        handled += 1
    smtp.quit()
    imap.logout()
    summary = {
        "handled": handled,
        "replied": replied,
        "forms": forms,
        "seconds": round(time.perf_counter() - started, 3),
    }
    summary.update({k: round(v, 3) for k, v in phases.items()})
    print(json.dumps(summary), flush=True)
    return 0


def idle(args: argparse.Namespace) -> int:
    from imapclient import IMAPClient

    imap = IMAPClient(args.host, args.imap_port, ssl=False, timeout=60)
    imap.login(args.user, args.password)
    count = int(imap.select_folder(args.folder)[b"EXISTS"])
    imap.idle()
    print("READY", flush=True)
    seen = 0
    try:
        while seen < args.expect:
            for response in imap.idle_check(timeout=1):
                if len(response) < 2 or not isinstance(response[0], int):
                    continue
                number, what = response[0], response[1]
                if what == b"EXPUNGE":
                    count -= 1
                elif what == b"EXISTS":
                    now = time.time()
                    for _ in range(max(0, number - count)):
                        print(f"NOTICE {now:.6f}", flush=True)
                        seen += 1
                    count = number
    finally:
        try:
            imap.idle_done()
            imap.logout()
        except Exception:  # noqa: BLE001,S110 - the server may be gone already
            pass
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("backlog", "idle"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--imap-port", type=int, required=True)
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--user", default="cscp@example.org")
    parser.add_argument("--password", default="bench-password-1")
    parser.add_argument("--expect", type=int, default=100)
    parser.add_argument("--folder", default="INBOX", help="the folder to idle on (idle)")
    args = parser.parse_args()
    return backlog(args) if args.mode == "backlog" else idle(args)


if __name__ == "__main__":
    sys.exit(main())
