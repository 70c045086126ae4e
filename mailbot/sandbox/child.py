"""The sandbox child: limits itself, leaves the network, reads what it is sent.

Run as ``python -m mailbot.sandbox.child RFD WFD LIMITS_JSON`` by the bot (or entered
after a fork).  It serves jobs from its pipe: ``read`` (one attachment, within the
message's budget), ``message`` (parse a raw message), ``probe`` (what it can see, for
tests), ``test`` (deliberate misbehaviour, for tests).
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

from mailbot.forms.convert import ConvertLimits
from mailbot.forms.limits import ReadBudget
from mailbot.forms.model import ParsedForm
from mailbot.sandbox.frames import MAX_JSON, Closed, receive, send
from mailbot.sandbox.limits import CONVERT_FILE_MB, CONVERT_MEMORY_MB, CONVERT_OPEN_FILES, SandboxLimits

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_PR_SET_PDEATHSIG = 1


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _isolate_network() -> str:
    """A new, empty network namespace for this process: ``namespace``, or ``none``."""
    try:
        libc = _libc()
        uid, gid = os.getuid(), os.getgid()
        if uid == 0 and libc.unshare(_CLONE_NEWNET) == 0:
            return "namespace"
        if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
            return "none"
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        return "namespace"
    except OSError:
        return "none"


def _vm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _set_limits(limits: SandboxLimits) -> None:
    """The worker's own hard limits; CPU is re-armed per message in ``serve``."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    files = max(limits.open_files, CONVERT_OPEN_FILES)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, files))
    size = limits.file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, max(size, CONVERT_FILE_MB << 20)))
    memory = _vm_bytes() + limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, max(memory, CONVERT_MEMORY_MB << 20)))


def _peak_mb() -> float:
    """The peak resident memory (MB) of the worker (VmHWM) or of a LibreOffice it ran."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return max(children, int(line.split()[1]) / 1024)
    return children


def _cpu_used() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _arm_cpu(seconds: float) -> None:
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(used.ru_utime + used.ru_stime + max(1.0, seconds)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


def _form_json(form: ParsedForm) -> dict[str, Any]:
    return {
        "referral": form.referral,
        "missing_required": form.missing_required,
        "provenance": form.provenance,
        "source": form.source,
        "queries": [q.as_json() for q in form.queries],
    }


def _read_job(request: dict[str, Any], parts: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    from mailbot.forms.attachments import read_attachment

    _arm_cpu(float(request["cpu_seconds"]))
    budget = ReadBudget(
        conversions=int(request["conversions"]),
        inflate_bytes=int(request["max_bytes"]) * 8,
        convert_limits=ConvertLimits(
            timeout=float(request["wall_seconds"]) + 5,
            cpu_seconds=max(1, int(request["cpu_seconds"])),
            memory_mb=CONVERT_MEMORY_MB,
            open_files=CONVERT_OPEN_FILES,
            file_mb=CONVERT_FILE_MB,
            own_session=False,
        ),
    )
    verdicts: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for index, (meta, data) in enumerate(zip(request["parts"], parts, strict=True)):
        for verdict in read_attachment(
            meta["name"],
            meta["ctype"],
            data,
            max_bytes=int(request["max_bytes"]),
            reference_year=request["year"],
            budget=budget,
        ):
            ref: dict[str, int] | None = None
            if verdict.data is data:
                ref = {"part": index}
            elif verdict.data:
                ref = {"blob": len(blobs)}
                blobs.append(verdict.data)
            verdicts.append(
                {
                    "filename": verdict.filename,
                    "kind": verdict.kind,
                    "reason": verdict.reason,
                    "content_type": verdict.content_type,
                    "size": verdict.size,
                    "data": ref,
                    "form": _form_json(verdict.form) if verdict.form is not None else None,
                }
            )
    return {"verdicts": verdicts, "converted": budget.converted, "blobs": len(blobs)}, blobs


def _message_job(request: dict[str, Any], raw: bytes) -> tuple[dict[str, Any], list[bytes]]:
    from mailbot.mail.reader import read_message

    _arm_cpu(float(request["cpu_seconds"]))
    msg = read_message(
        raw,
        sender_auth=str(request.get("sender_auth") or "none"),
        trusted_authserv_id=request.get("trusted_authserv_id"),
        sender_auth_tenant_id=request.get("sender_auth_tenant_id"),
    )
    fields = {
        "message_id": msg.message_id,
        "subject": msg.subject,
        "sender": msg.sender,
        "date": msg.date.isoformat() if msg.date is not None else None,
        "in_reply_to": msg.in_reply_to,
        "references": msg.references,
        "return_path": msg.return_path,
        "content_type": msg.content_type,
        "headers": msg.headers,
        "text": msg.text,
        "auth": dataclasses.asdict(msg.auth),
        "defects": msg.defects,
        "case_tags": msg.case_tags,
        "wrapping": dataclasses.asdict(msg.wrapping),
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "sniffed": a.sniffed, "inline": a.inline}
            for a in msg.attachments
        ],
    }
    return {"message": fields, "blobs": len(msg.attachments)}, [a.data for a in msg.attachments]


def _probe(request: dict[str, Any], network: str) -> dict[str, Any]:
    """What the worker can see and do: for tests and for ``mailbot check``-style reports."""
    import socket

    reached = False
    port = request.get("port")
    if isinstance(port, int):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                reached = True
        except OSError:
            reached = False
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    return {
        "env": sorted(os.environ),
        "network": network,
        "reached": reached,
        "pid": os.getpid(),
        "as_limit": limit,
        "cpu_limit": resource.getrlimit(resource.RLIMIT_CPU)[0],
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def _test_job(request: dict[str, Any]) -> dict[str, Any]:
    """Deliberate misbehaviour, so the tests can show each limit holds."""
    _arm_cpu(float(request.get("cpu_seconds", 20)))
    what = request.get("what")
    if what == "spin":
        while True:
            pass
    if what == "sleep":
        time.sleep(3600)
    if what == "allocate":
        hoard = [bytearray(64 * 1024 * 1024) for _ in range(1024)]
        return {"allocated": len(hoard)}
    if what == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    return {}


def serve(rfd: int, wfd: int, network: str, max_jobs: int) -> None:
    baseline = _cpu_used()  # start-up is not any message's
    for _ in range(max_jobs):
        try:
            request = json.loads(receive(rfd, MAX_JSON))
        except (Closed, OSError, ValueError):
            return
        op = request.get("op")
        try:
            if op == "read":
                parts = [receive(rfd, 1 << 31) for _ in request["parts"]]
                answer, blobs = _read_job(request, parts)
            elif op == "message":
                raw = receive(rfd, 1 << 31)
                answer, blobs = _message_job(request, raw)
            elif op == "probe":
                answer, blobs = _probe(request, network), []
            else:
                answer, blobs = _test_job(request), []
        except MemoryError:
            answer, blobs = {"breach": "memory"}, []
            max_jobs = 0  # the heap may be in pieces: answer, then make way for a new worker
        answer["cpu"] = _cpu_used() - baseline
        answer["peak_mb"] = _peak_mb()
        send(wfd, json.dumps(answer).encode("utf-8"))
        for blob in blobs:
            send(wfd, blob)
        if max_jobs == 0:
            return


def prepare_child(limits: SandboxLimits) -> str:
    """Everything a worker does before its first job; returns its network isolation."""
    try:
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # never outlive the bot
    except (OSError, AttributeError):
        pass
    network = _isolate_network()
    # Loaded once here, so a message pays for parsing, not for imports.
    import pdfplumber  # noqa: F401
    import pypdf  # noqa: F401
    import pypdfium2  # noqa: F401

    import mailbot.forms.attachments  # noqa: F401

    _set_limits(limits)
    return network


def worker_main(argv: list[str]) -> None:
    rfd, wfd = int(argv[0]), int(argv[1])
    limits = SandboxLimits(**json.loads(argv[2]))
    network = prepare_child(limits)
    serve(rfd, wfd, network, limits.recycle_after)


if __name__ == "__main__":
    worker_main(sys.argv[1:])
