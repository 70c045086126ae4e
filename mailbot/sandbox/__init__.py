"""Untrusted mail read in a child process with hard limits (issue 13).

Parsing the message (``read_message``: MIME, headers, HTML) and reading its attachments
(``read_attachments``: sniffing, unzipping, Word/PDF/ODT parsing, LibreOffice
conversions) run in a worker process, never in the bot's own:

- **CPU seconds** (``RLIMIT_CPU``, re-armed for each message), **address space**
  (``RLIMIT_AS``: its size after start-up plus ``memory_mb``), **open files**, **file
  size**, no core files, and a **wall clock** per message enforced from here, after
  which the worker's whole process group (LibreOffice included) is killed;
- **no network**: the worker makes itself a new, empty network namespace at start
  (as root, or through a user namespace otherwise) wherever the machine allows it, and
  LibreOffice runs hardened on top of that (``forms.convert``);
- **a scrubbed environment**: the worker gets only PATH, HOME, TMPDIR, the locale and
  where the package is; no MAILBOT_* setting, password or secret;
- **plain data back**: JSON and raw byte frames, checked and bounded here, so that even
  a subverted worker can neither run code in the bot nor make it allocate without end.

A breach ends in a verdict, not an exception: ``kind="reject"`` with ``TOO_COMPLEX``
(plain words for the referrer) and ``breach`` naming the limit, so the handlers answer
``reject_attachment`` (or, if the team prefers, ``manual_entry`` keyed on ``breach``).

The worker is reused (it pays its ~0.3 s start-up once), recycled after a breach and
every ``recycle_after`` messages; ``mode="spawn"`` (a fresh worker per message) and
``mode="fork"`` (a fork of the bot per message) exist for comparison
(benchmarks/bench_sandbox.py).

The child is ``mailbot.sandbox.child``; the bot's side is ``mailbot.sandbox.client``;
the wire between them ``mailbot.sandbox.frames``.
"""

from __future__ import annotations

from mailbot.sandbox.client import AttachmentSandbox, breach_verdict, child_env
from mailbot.sandbox.limits import Breach, Mode, SandboxBreach, SandboxLimits

__all__ = [
    "AttachmentSandbox",
    "Breach",
    "Mode",
    "SandboxBreach",
    "SandboxLimits",
    "breach_verdict",
    "child_env",
]
