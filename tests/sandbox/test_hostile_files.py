"""Hostile attachments through the sandbox (issue 13): a verdict, in time, within memory.

Every shape of the issue gets a verdict with plain words; the child is stopped at its
hard limits (CPU, memory, wall clock) and the next referral is read normally after it;
LibreOffice never reaches the network and never sees the bot's secrets.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import hostile
from helpers.services import missing_service

from mailbot.forms import read_attachments
from mailbot.forms.convert import ConvertLimits, child_env, isolation, run_soffice, soffice_path
from mailbot.forms.limits import TOO_COMPLEX, TOO_MANY_CONVERSIONS
from mailbot.forms.model import AttachmentVerdict
from mailbot.forms.safezip import DAMAGED
from mailbot.sandbox import AttachmentSandbox, SandboxLimits

MB = hostile.MB
MAX = 25 * MB
FORM = hostile.form_bytes()
#: The wall limit plus 2 s (the issue's target for any message).
WALL = 60.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AttachmentSandbox]:
    with AttachmentSandbox(SandboxLimits()) as box:
        yield box


def read(box: AttachmentSandbox, name: str, data: bytes) -> tuple[list[AttachmentVerdict], float]:
    start = time.perf_counter()
    verdicts = box.read_attachments(
        [(name, "application/octet-stream", data)], max_bytes=MAX, reference_year=2026
    )
    return verdicts, time.perf_counter() - start


def next_referral_is_read(box: AttachmentSandbox) -> None:
    verdicts, seconds = read(box, "referral.docx", FORM)
    assert [v.kind for v in verdicts] == ["form"]
    assert seconds < 5


def needs_libreoffice() -> None:
    if soffice_path() is None:
        missing_service("LibreOffice is not installed (.ci/run installs it)")


# -- PDF ---------------------------------------------------------------------------------------
def test_pdf_that_inflates_to_gigabytes_is_too_complex(sandbox: AttachmentSandbox) -> None:
    pdf = hostile.pdf_inflate_bomb()
    assert len(pdf) < 40_000
    (verdict,), seconds = read(sandbox, "referral.pdf", pdf)
    assert verdict.kind == "reject" and verdict.reason == TOO_COMPLEX
    assert verdict.breach is None  # stopped by the reader's own cap, not a hard limit
    assert seconds < 10
    assert sandbox.child_peak_mb < 400
    next_referral_is_read(sandbox)


def test_pdf_with_a_one_gigabyte_stream_is_too_complex(sandbox: AttachmentSandbox) -> None:
    (verdict,), seconds = read(sandbox, "referral.pdf", hostile.pdf_gigabyte_stream())
    assert verdict.kind == "reject" and verdict.reason == TOO_COMPLEX
    assert seconds < 10
    assert sandbox.child_peak_mb < 400


def test_pdf_of_25000_pages_reads_only_the_first_pages(sandbox: AttachmentSandbox) -> None:
    (verdict,), seconds = read(sandbox, "referral.pdf", hostile.pdf_pages(25_000, shared=False))
    assert verdict.kind == "not_form"
    assert seconds < 30
    next_referral_is_read(sandbox)


@pytest.mark.slow
def test_pdf_of_800_pages_sharing_one_stream_ends_within_the_limits(sandbox: AttachmentSandbox) -> None:
    (verdict,), seconds = read(sandbox, "referral.pdf", hostile.pdf_pages(800, shared=True))
    assert verdict.kind in ("not_form", "reject")  # read 50 pages, or stopped at the CPU limit
    assert seconds < WALL + 2
    next_referral_is_read(sandbox)


# -- archives and Word -------------------------------------------------------------------------
def test_zip_of_four_24_mb_members_is_kept_once_as_it_came(sandbox: AttachmentSandbox) -> None:
    archive = hostile.zip_four_big_members()
    verdicts, seconds = read(sandbox, "papers.zip", archive)
    assert seconds < 20
    kept = [v for v in verdicts if v.data]
    assert [v.filename for v in kept] == ["papers.zip"]
    assert kept[0].data == archive  # 1.4 MB, not 96 MB inflated
    assert sum(len(v.data) for v in verdicts) == len(archive)


def test_form_in_a_zip_with_other_files_keeps_the_form_and_the_zip(sandbox: AttachmentSandbox) -> None:
    archive = hostile.zipped(
        {"referral.docx": FORM, "notes.txt": b"a note", "photo.png": b"\x89PNG\r\n\x1a\n" + bytes(64)}
    )
    verdicts, _ = read(sandbox, "bundle.zip", archive)
    assert [(v.filename, v.kind) for v in verdicts] == [
        ("bundle.zip/referral.docx", "form"),
        ("bundle.zip", "not_form"),
    ]
    assert verdicts[0].data == FORM and verdicts[1].data == archive


def test_truncated_docx_is_damaged_not_missing(sandbox: AttachmentSandbox) -> None:
    (verdict,), _ = read(sandbox, "referral.docx", hostile.truncated_docx())
    assert verdict.kind == "reject" and verdict.reason == DAMAGED


def test_docx_with_a_corrupt_member_is_damaged(sandbox: AttachmentSandbox) -> None:
    """Found by the fuzzer: zlib.error from a broken member escaped the sniffer."""
    (verdict,), _ = read(sandbox, "referral.docx", hostile.docx_corrupt_member())
    assert verdict.kind == "reject" and verdict.reason == DAMAGED
    (direct,) = read_attachments(
        [("referral.docx", "x", hostile.docx_corrupt_member())], max_bytes=MAX, reference_year=2026
    )
    assert direct.kind == "reject" and direct.reason == DAMAGED


def test_sandboxed_reading_matches_reading_in_process(sandbox: AttachmentSandbox) -> None:
    for path in sorted(hostile.FORMS.glob("coc-*")):
        if path.suffix not in (".docx", ".pdf"):
            continue
        data = path.read_bytes()
        (inside,), _ = read(sandbox, path.name, data)
        (direct,) = read_attachments([(path.name, "x", data)], max_bytes=MAX, reference_year=2026)
        assert (inside.kind, inside.form, inside.reason) == (direct.kind, direct.form, direct.reason), (
            path.name
        )
        assert inside.data is data  # the bytes were never copied back


# -- hard limits --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("what", "limit", "limits"),
    [
        ("spin", "cpu", SandboxLimits(cpu_seconds=1, wall_seconds=20)),
        ("sleep", "wall", SandboxLimits(wall_seconds=2)),
        ("allocate", "memory", SandboxLimits(memory_mb=256)),
        ("crash", "crash", SandboxLimits()),
    ],
)
def test_a_child_past_its_limit_is_stopped_and_the_next_one_works(
    what: str, limit: str, limits: SandboxLimits
) -> None:
    with AttachmentSandbox(limits) as box:
        start = time.perf_counter()
        assert box.misbehave(what) == limit
        assert time.perf_counter() - start < limits.wall_seconds + 2
        next_referral_is_read(box)


def test_a_breach_is_a_too_complex_verdict_and_the_message_goes_on() -> None:
    with AttachmentSandbox(SandboxLimits(cpu_seconds=1, wall_seconds=30)) as box:
        start = time.perf_counter()
        verdicts = box.read_attachments(
            [
                ("referral.pdf", "application/pdf", hostile.pdf_ruled_grid()),
                ("referral.docx", hostile.DOCX, FORM),
            ],
            max_bytes=MAX,
            reference_year=2026,
        )
        assert time.perf_counter() - start < 32
        assert verdicts[0].kind == "reject" and verdicts[0].reason == TOO_COMPLEX
        assert verdicts[0].breach == "cpu"
        assert box.last_breach == "cpu"
        # The message's CPU is spent, so its other file is not read either; the next
        # message starts with a full allowance.
        assert verdicts[1].breach == "cpu"
        next_referral_is_read(box)


def test_the_worker_has_no_network_and_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_CANARY_SECRET", "do-not-inherit")
    with _Listener() as listener, AttachmentSandbox() as box:
        seen = box.probe(port=listener.port)
    assert not any(name.startswith("MAILBOT_") for name in seen["env"])
    assert seen["reached"] is False
    assert listener.hits == 0
    assert seen["network"] in ("namespace", "none")
    assert seen["as_limit"] > 0 and seen["nofile"] == 64


def test_main_process_stays_small_with_a_25_mb_attachment(tmp_path: Path) -> None:
    """Measured in a fresh interpreter: its peak RSS with the whole message read."""
    raw = hostile.with_attachment("big.pdf", b"%PDF-1.4\n" + bytes(25 * MB))
    (tmp_path / "big.eml").write_bytes(raw)
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from mailbot.sandbox import AttachmentSandbox\n"
        "raw = Path(sys.argv[1]).read_bytes()\n"
        "with AttachmentSandbox() as box:\n"
        "    msg = box.read_message(raw)\n"
        "    parts = [(a.filename, a.content_type, a.data) for a in msg.attachments]\n"
        "    verdicts = box.read_attachments(parts, max_bytes=26 * 1024 * 1024,"
        " reference_year=2026)\n"
        "hwm = [l for l in Path('/proc/self/status').read_text().splitlines()"
        " if l.startswith('VmHWM')][0]\n"
        "print(json.dumps({'hwm_mb': int(hwm.split()[1]) / 1024,"
        " 'kinds': [v.kind for v in verdicts]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "big.eml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["kinds"] == ["reject"]
    assert result["hwm_mb"] < 200


# -- LibreOffice ----------------------------------------------------------------------------------
class _Listener:
    """A loopback HTTP server that counts every request."""

    def __enter__(self) -> _Listener:
        self.hits = 0
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                listener.hits += 1
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/x.png"


def _convert(tmp_path: Path, url: str, **how: bool) -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "input.odt"
    source.write_bytes(hostile.odt("Referral", image_url=url))
    (tmp_path / "out").mkdir(exist_ok=True)
    made = run_soffice(source, "docx", tmp_path / "out", ConvertLimits(timeout=90), **how)
    assert made is not None and made.stat().st_size > 0


@pytest.mark.slow
def test_libreoffice_never_fetches_a_remote_image(tmp_path: Path, sandbox: AttachmentSandbox) -> None:
    """The proof of network isolation, each layer on its own, against a listener.

    Unprotected (no namespace, default profile) LibreOffice fetches the image: the
    listener counts it, so the test can fail.  With the hardened profile alone, with the
    namespace alone, and in the sandbox, it is never asked.
    """
    needs_libreoffice()
    with _Listener() as listener:
        _convert(tmp_path / "a", listener.url, isolate_network=False, hardened=False)
        assert listener.hits >= 1, "unprotected LibreOffice should fetch the image"
    with _Listener() as listener:
        _convert(tmp_path / "b", listener.url, isolate_network=False, hardened=True)
        assert listener.hits == 0, "the hardened profile alone must block it"
    if isolation() == "namespace":
        with _Listener() as listener:
            _convert(tmp_path / "c", listener.url, isolate_network=True, hardened=False)
            assert listener.hits == 0, "the network namespace alone must block it"
    with _Listener() as listener:
        data = hostile.odt("Referral", image_url=listener.url)
        (verdict,), _ = read(sandbox, "referral.odt", data)
        assert verdict.kind == "not_form"  # converted and read: just not the COC form
        assert listener.hits == 0


def test_libreoffice_gets_no_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in soffice writes the environment it was given where the .docx goes."""
    fake = tmp_path / "bin" / "soffice"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "--outdir" ]; do shift; done\nenv > "$2/input.docx"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("MAILBOT_CANARY_SECRET", "do-not-inherit")
    monkeypatch.setenv("MAILBOT_MAILBOX_PASSWORD", "hunter2")
    from mailbot.forms.convert import to_docx

    env = to_docx(b"odt bytes", "odt").decode()
    assert "MAILBOT_" not in env and "hunter2" not in env
    assert "HOME=" in env and "PATH=" in env
    assert set(child_env(tmp_path)) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "SAL_USE_VCLPLUGIN",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
    }


@pytest.mark.slow
def test_zip_of_ten_odt_converts_at_most_three() -> None:
    needs_libreoffice()
    with AttachmentSandbox() as box:
        verdicts, seconds = read(box, "forms.zip", hostile.zip_of_zips_odt(10))
    refused = [v for v in verdicts if v.reason == TOO_MANY_CONVERSIONS]
    assert len(refused) == 1  # seven files refused, said once
    assert box.last_conversions == 3 and box.last_breach is None
    assert seconds < WALL + 2


@pytest.mark.slow
def test_wall_clock_breach_kills_libreoffice_too() -> None:
    needs_libreoffice()
    with AttachmentSandbox(SandboxLimits(wall_seconds=3)) as box:
        worker = box._take_worker()
        home = str(worker.home)
        verdicts, seconds = read(box, "forms.zip", hostile.zip_of_zips_odt(10))
        assert verdicts[0].breach == "wall" and verdicts[0].reason == TOO_COMPLEX
        assert seconds < 3 + 2
        time.sleep(0.5)
        left = []
        for proc in Path("/proc").iterdir():
            try:
                if home in (proc / "cmdline").read_text(errors="replace"):
                    left.append(proc.name)
            except OSError:
                continue
        assert left == [], "LibreOffice outlived the killed worker"


@pytest.mark.slow
def test_to_pdf_for_the_agenda_pack_uses_the_same_hardened_run(tmp_path: Path) -> None:
    """``forms.convert.to_pdf`` is what sprg/pack.py's own soffice wrapper becomes."""
    needs_libreoffice()
    from mailbot.forms.convert import to_pdf

    source = tmp_path / "agenda.docx"
    source.write_bytes(FORM)
    made = to_pdf(source, timeout=120)
    assert made == tmp_path / "agenda.pdf"
    assert made.read_bytes().startswith(b"%PDF-")
    assert made.stat().st_mode & 0o777 == 0o600
