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

Run as ``python -m mailbot.sandbox RFD WFD`` it is the worker.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mailbot.errors import FormError
from mailbot.forms.convert import ConvertLimits
from mailbot.forms.limits import MAX_CONVERSIONS, TOO_COMPLEX, ReadBudget
from mailbot.forms.model import AttachmentVerdict, ParsedForm, Query, VerdictKind

if TYPE_CHECKING:
    from mailbot.mail.reader import InboundMessage

Mode = Literal["worker", "spawn", "fork"]
Breach = Literal["cpu", "memory", "wall", "crash"]

_KINDS: frozenset[str] = frozenset({"form", "not_form", "reject", "manual"})
_FRAME = struct.Struct(">Q")
#: Largest JSON answer accepted from a worker (a verdict list with parsed forms).
_MAX_JSON = 16 * 1024 * 1024
#: Variables a worker inherits; everything else (MAILBOT_*, secrets) stays behind.
_LOCALE = ("LANG", "LC_ALL", "LC_CTYPE")
#: LibreOffice needs about 500 MB of address space of its own.
_CONVERT_MEMORY_MB = 1536
_CONVERT_OPEN_FILES = 256
_CONVERT_FILE_MB = 256

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_PR_SET_PDEATHSIG = 1


class SandboxBreach(FormError):
    """A child reading attachments was stopped at a hard limit (``limit`` says which)."""

    def __init__(self, limit: Breach) -> None:
        super().__init__(f"attachment reading stopped at the {limit} limit")
        self.limit: Breach = limit


@dataclass(frozen=True)
class SandboxLimits:
    """Hard limits for reading one message's attachments."""

    cpu_seconds: int = 20
    memory_mb: int = 512
    wall_seconds: float = 60.0
    open_files: int = 64
    file_mb: int = 64
    conversions: int = MAX_CONVERSIONS
    #: A worker reads at most this many messages before it is replaced.
    recycle_after: int = 200
    mode: Mode = "worker"

    @classmethod
    def from_settings(cls, settings: Any) -> SandboxLimits:
        """From ``Settings`` (``sandbox.cpu_seconds``, ``memory_mb``, ``wall_seconds``)."""
        return cls(cpu_seconds=max(1, int(settings.sandbox_cpu_seconds)),
                   memory_mb=max(64, int(settings.sandbox_memory_mb)),
                   wall_seconds=float(max(1, int(settings.sandbox_wall_seconds))))


# -- frames ---------------------------------------------------------------------------------
def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[: 1 << 20])
        view = view[written:]


def _send(fd: int, payload: bytes | memoryview) -> None:
    _write_all(fd, _FRAME.pack(len(payload)))
    _write_all(fd, payload)


class _Timeout(Exception):
    pass


class _Closed(Exception):
    pass


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    left = size
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise _Timeout
            if not poller.poll(wait * 1000):
                raise _Timeout
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise _Closed
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int, limit: int, deadline: float | None = None) -> bytes:
    (size,) = _FRAME.unpack(_read_exact(fd, _FRAME.size, deadline))
    if size > limit:
        raise _Closed  # a worker that says more than it may is treated as broken
    return _read_exact(fd, size, deadline)


# -- the worker -------------------------------------------------------------------------------
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
    """The worker's own hard limits; CPU is re-armed per message in ``_serve``."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    files = max(limits.open_files, _CONVERT_OPEN_FILES)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, files))
    size = limits.file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, max(size, _CONVERT_FILE_MB << 20)))
    memory = _vm_bytes() + limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, max(memory, _CONVERT_MEMORY_MB << 20)))


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
    return {"referral": form.referral, "missing_required": form.missing_required,
            "provenance": form.provenance, "source": form.source,
            "queries": [q.as_json() for q in form.queries]}


def _read_job(request: dict[str, Any], parts: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    from mailbot.forms.attachments import read_attachment

    _arm_cpu(float(request["cpu_seconds"]))
    budget = ReadBudget(conversions=int(request["conversions"]),
                        inflate_bytes=int(request["max_bytes"]) * 8,
                        convert_limits=ConvertLimits(
                            timeout=float(request["wall_seconds"]) + 5,
                            cpu_seconds=max(1, int(request["cpu_seconds"])),
                            memory_mb=_CONVERT_MEMORY_MB, open_files=_CONVERT_OPEN_FILES,
                            file_mb=_CONVERT_FILE_MB, own_session=False))
    verdicts: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for index, (meta, data) in enumerate(zip(request["parts"], parts, strict=True)):
        for verdict in read_attachment(meta["name"], meta["ctype"], data,
                                       max_bytes=int(request["max_bytes"]),
                                       reference_year=request["year"], budget=budget):
            ref: dict[str, int] | None = None
            if verdict.data is data:
                ref = {"part": index}
            elif verdict.data:
                ref = {"blob": len(blobs)}
                blobs.append(verdict.data)
            verdicts.append({
                "filename": verdict.filename, "kind": verdict.kind, "reason": verdict.reason,
                "content_type": verdict.content_type, "size": verdict.size, "data": ref,
                "form": _form_json(verdict.form) if verdict.form is not None else None})
    return {"verdicts": verdicts, "converted": budget.converted, "blobs": len(blobs)}, blobs


def _message_job(request: dict[str, Any], raw: bytes) -> tuple[dict[str, Any], list[bytes]]:
    from mailbot.mail.reader import read_message

    _arm_cpu(float(request["cpu_seconds"]))
    msg = read_message(raw, trusted_authserv_id=request.get("trusted_authserv_id"))
    fields = {
        "message_id": msg.message_id, "subject": msg.subject, "sender": msg.sender,
        "date": msg.date.isoformat() if msg.date is not None else None,
        "in_reply_to": msg.in_reply_to, "references": msg.references,
        "return_path": msg.return_path, "content_type": msg.content_type,
        "headers": msg.headers, "text": msg.text, "dmarc": msg.dmarc,
        "defects": msg.defects, "case_tags": msg.case_tags,
        "attachments": [{"filename": a.filename, "content_type": a.content_type,
                         "sniffed": a.sniffed, "inline": a.inline} for a in msg.attachments],
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
    return {"env": sorted(os.environ), "network": network, "reached": reached,
            "pid": os.getpid(), "as_limit": limit,
            "cpu_limit": resource.getrlimit(resource.RLIMIT_CPU)[0],
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}


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


def _serve(rfd: int, wfd: int, network: str, max_jobs: int) -> None:
    baseline = _cpu_used()  # start-up is not any message's
    for _ in range(max_jobs):
        try:
            request = json.loads(_receive(rfd, _MAX_JSON))
        except (_Closed, OSError, ValueError):
            return
        op = request.get("op")
        try:
            if op == "read":
                parts = [_receive(rfd, 1 << 31) for _ in request["parts"]]
                answer, blobs = _read_job(request, parts)
            elif op == "message":
                raw = _receive(rfd, 1 << 31)
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
        _send(wfd, json.dumps(answer).encode("utf-8"))
        for blob in blobs:
            _send(wfd, blob)
        if max_jobs == 0:
            return


def _prepare_child(limits: SandboxLimits) -> str:
    """Everything a worker does before its first job; returns its network isolation."""
    try:
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # never outlive the bot
    except (OSError, AttributeError):
        pass
    network = _isolate_network()
    # Loaded once here, so a message pays for parsing, not for imports.
    import pdfplumber  # noqa: F401
    import pypdf  # noqa: F401

    import mailbot.forms.attachments  # noqa: F401

    _set_limits(limits)
    return network


def worker_main(argv: list[str]) -> None:
    rfd, wfd = int(argv[0]), int(argv[1])
    limits = SandboxLimits(**json.loads(argv[2]))
    network = _prepare_child(limits)
    _serve(rfd, wfd, network, limits.recycle_after)


# -- the bot's side --------------------------------------------------------------------------
def child_env(home: Path) -> dict[str, str]:
    """The whole environment of a worker."""
    package_root = str(Path(__file__).resolve().parent.parent)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home),
           "PYTHONPATH": package_root, "PYTHONDONTWRITEBYTECODE": "1"}
    for name in _LOCALE:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class _Worker:
    """One child process and its pipes."""

    def __init__(self, limits: SandboxLimits, mode: Mode) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="mailbot-sandbox-"))
        self.jobs = 0
        #: CPU seconds the worker had reported after its last job.
        self.cpu = 0.0
        self.killed = False
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        child_fds = (to_child_r, from_child_w)
        self.proc: subprocess.Popen[bytes] | None = None
        self.fork_pid: int | None = None
        if mode == "fork":
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child's side, measured by the tests
                code = 0
                try:
                    os.setsid()
                    os.close(self.to_child)
                    os.close(self.from_child)
                    for name in [n for n in os.environ if n not in child_env(self.home)]:
                        del os.environ[name]
                    os.environ.update(child_env(self.home))
                    network = _prepare_child(limits)
                    _serve(to_child_r, from_child_w, network, 1)
                except BaseException:  # noqa: BLE001 - a forked child must never return
                    code = 1
                os._exit(code)
            self.fork_pid = pid
        else:
            settings = asdict(limits)
            if mode == "spawn":
                settings["recycle_after"] = 1
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "mailbot.sandbox", str(to_child_r),
                 str(from_child_w), json.dumps(settings)],
                pass_fds=child_fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=child_env(self.home), cwd=self.home,
                start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else int(self.fork_pid or 0)

    def kill(self) -> None:
        if not self.killed:
            self.killed = True
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def status(self) -> int | None:
        """The exit status (negative: the signal) once the worker has ended, else None."""
        if self.proc is not None:
            try:
                return self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                return None
        if self.fork_pid is None:
            return None
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.fork_pid, os.WNOHANG)
            if pid:
                self.fork_pid = None
                return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            time.sleep(0.01)
        return None

    def close(self) -> None:
        self.kill()
        self.status()
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.home, ignore_errors=True)


def _breach_of(status: int | None, killed_for_time: bool) -> Breach:
    if killed_for_time:
        return "wall"
    if status in (-signal.SIGXCPU,):
        return "cpu"
    if status == -signal.SIGKILL:  # not by us: the kernel, out of memory
        return "memory"
    return "crash"  # a signal from a library that ran out of memory, or a bug


def _form_from(data: Any) -> ParsedForm | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("referral"), dict):
        raise ValueError("form")
    queries = [Query(str(q["field"]), str(q["problem"])) for q in data.get("queries", [])]
    return ParsedForm(referral=data["referral"],
                      missing_required=[str(k) for k in data.get("missing_required", [])],
                      provenance={str(k): str(v) for k, v in data.get("provenance", {}).items()},
                      source=str(data.get("source", "docx")), queries=queries)


def breach_verdict(filename: str, content_type: str, data: bytes, limit: Breach
                   ) -> AttachmentVerdict:
    """The verdict for a file whose reading was stopped at a hard limit."""
    return AttachmentVerdict(filename=filename, kind="reject", reason=TOO_COMPLEX,
                             content_type=content_type, size=len(data), data=data,
                             breach=limit)


class AttachmentSandbox:
    """``read_attachments`` in a child process, one message at a time, within limits."""

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        #: Per message: the limit breached, if any (for logs and tests).
        self.last_breach: Breach | None = None
        #: The highest peak resident memory any worker reported (MB), for benchmarks.
        self.child_peak_mb = 0.0
        #: LibreOffice conversions the last message's attachments used.
        self.last_conversions = 0

    # The worker -------------------------------------------------------------------------
    def _take_worker(self) -> _Worker:
        if self._worker is None or self._worker.killed:
            self._worker = _Worker(self.limits, self.limits.mode)
        return self._worker

    def _retire(self, *, now: bool = False) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()
        if not now and self.limits.mode == "worker":
            self._worker = _Worker(self.limits, "worker")  # warm for the next message

    def close(self) -> None:
        with self._lock:
            self._retire(now=True)

    def __enter__(self) -> AttachmentSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # One request --------------------------------------------------------------------------
    def _exchange(self, request: dict[str, Any], payloads: list[bytes], deadline: float,
                  blob_limit: int) -> tuple[dict[str, Any], list[bytes]]:
        worker = self._take_worker()
        worker.jobs += 1
        try:
            _send(worker.to_child, json.dumps(request).encode("utf-8"))
            for payload in payloads:
                _send(worker.to_child, payload)
            answer = json.loads(_receive(worker.from_child, _MAX_JSON, deadline))
            if not isinstance(answer, dict):
                raise ValueError("answer")
            count = int(answer.get("blobs", 0))
            blobs = []
            for _ in range(count):
                blob = _receive(worker.from_child, blob_limit, deadline)
                blob_limit -= len(blob)
                blobs.append(blob)
        except _Timeout:
            worker.kill()
            self._retire()
            raise SandboxBreach("wall") from None
        except (_Closed, OSError, ValueError, TypeError) as exc:
            worker.kill()  # its pipe broke or it spoke nonsense: see why it ended
            status = worker.status()
            self._retire()
            raise SandboxBreach(_breach_of(status, False)) from exc
        if answer.get("breach") == "memory":
            self._retire()
            raise SandboxBreach("memory")
        try:
            cpu = float(answer.get("cpu", 0.0))
        except (TypeError, ValueError):
            cpu = worker.cpu
        answer["used"] = max(0.0, cpu - worker.cpu)
        worker.cpu = cpu
        peak = answer.get("peak_mb")
        if isinstance(peak, int | float):
            self.child_peak_mb = max(self.child_peak_mb, float(peak))
        if self.limits.mode != "worker" or worker.jobs >= self.limits.recycle_after:
            self._retire()
        return answer, blobs

    def probe(self, port: int | None = None) -> dict[str, Any]:
        """What a worker sees: its environment's names, its network, its limits."""
        with self._lock:
            answer, _ = self._exchange({"op": "probe", "port": port}, [],
                                       time.monotonic() + 30, 0)
            return answer

    def misbehave(self, what: str) -> Breach | None:
        """Make a worker spin, sleep, allocate or crash: the limit that stopped it."""
        with self._lock:
            try:
                self._exchange({"op": "test", "what": what,
                                "cpu_seconds": self.limits.cpu_seconds}, [],
                               time.monotonic() + self.limits.wall_seconds, 0)
            except SandboxBreach as breach:
                return breach.limit
            return None

    def read_message(self, raw: bytes, *, trusted_authserv_id: str | None = None
                     ) -> InboundMessage:
        """``mail.reader.read_message`` in the child: the bot never parses hostile MIME
        itself, and holds only the raw message and the attachments' bytes (a 25 MB
        attachment costs it about 60 MB instead of about 190 MB).  A message the child
        cannot read within the limits reads as unreadable (held for a person);
        ``last_breach`` says which limit."""
        from mailbot.mail.reader import unreadable

        with self._lock:
            self.last_breach = None
            request = {"op": "message", "cpu_seconds": self.limits.cpu_seconds,
                       "trusted_authserv_id": trusted_authserv_id}
            try:
                answer, blobs = self._exchange(request, [raw], time.monotonic()
                                               + self.limits.wall_seconds, len(raw) + 1024)
                return _message_from(answer["message"], raw, blobs)
            except SandboxBreach as breach:
                self.last_breach = breach.limit
                return unreadable(raw)
            except (KeyError, IndexError, TypeError, ValueError):
                self.last_breach = "crash"
                return unreadable(raw)

    def read_attachments(self, parts: list[tuple[str, str, bytes]], *, max_bytes: int,
                         reference_year: int) -> list[AttachmentVerdict]:
        """As ``forms.read_attachments``, each attachment in the child, the message
        within one budget of CPU, wall time and conversions."""
        with self._lock:
            return self._read(parts, max_bytes, reference_year)

    def _read(self, parts: list[tuple[str, str, bytes]], max_bytes: int, year: int
              ) -> list[AttachmentVerdict]:
        from mailbot.safetext import clean_content_type, clean_filename

        deadline = time.monotonic() + self.limits.wall_seconds
        cpu_left = float(self.limits.cpu_seconds)
        conversions = self.limits.conversions
        breached: Breach | None = None
        verdicts: list[AttachmentVerdict] = []
        for filename, content_type, raw in parts:
            data = bytes(raw)
            if breached == "cpu" or breached == "wall":  # nothing left for this message
                verdicts.append(breach_verdict(clean_filename(filename),
                                               clean_content_type(content_type), data, breached))
                continue
            request = {"op": "read", "max_bytes": max_bytes, "year": year,
                       "cpu_seconds": max(1.0, cpu_left), "conversions": conversions,
                       "wall_seconds": max(1.0, deadline - time.monotonic()),
                       "parts": [{"name": filename, "ctype": content_type}]}
            try:
                answer, blobs = self._exchange(request, [data], deadline, max_bytes * 4)
                found = self._verdicts(answer, blobs, data)
            except SandboxBreach as breach:
                breached = breach.limit
                verdicts.append(breach_verdict(clean_filename(filename),
                                               clean_content_type(content_type), data,
                                               breach.limit))
                continue
            cpu_left -= float(answer["used"])
            conversions -= int(answer.get("converted", 0))
            verdicts.extend(found)
            if cpu_left <= 0:
                breached = "cpu"
        self.last_breach = breached
        self.last_conversions = self.limits.conversions - conversions
        return verdicts

    def _verdicts(self, answer: dict[str, Any], blobs: list[bytes], data: bytes
                  ) -> list[AttachmentVerdict]:
        out: list[AttachmentVerdict] = []
        try:
            for item in answer["verdicts"]:
                kind = str(item["kind"])
                if kind not in _KINDS:
                    raise ValueError("kind")
                ref = item.get("data")
                blob = b""
                if isinstance(ref, dict) and "part" in ref:
                    blob = data
                elif isinstance(ref, dict) and "blob" in ref:
                    blob = blobs[int(ref["blob"])]
                reason = item.get("reason")
                out.append(AttachmentVerdict(
                    filename=str(item["filename"]), kind=_kind(kind),
                    form=_form_from(item.get("form")),
                    reason=str(reason) if reason is not None else None,
                    content_type=str(item["content_type"]), size=int(item["size"]),
                    data=blob))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise SandboxBreach("crash") from exc
        return out


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError("list")
    return [str(v) for v in value]


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _message_from(data: dict[str, Any], raw: bytes, blobs: list[bytes]) -> InboundMessage:
    """An InboundMessage from the child's answer, every field checked for its type."""
    from datetime import datetime

    from mailbot.mail.reader import InboundAttachment, InboundMessage

    headers = data["headers"]
    if not isinstance(headers, dict):
        raise ValueError("headers")
    attachments = [
        InboundAttachment(filename=str(a["filename"]), content_type=str(a["content_type"]),
                          data=blobs[n], sniffed=str(a["sniffed"]), inline=bool(a["inline"]))
        for n, a in enumerate(data["attachments"])]
    date = data.get("date")
    return InboundMessage(
        raw=raw, message_id=_optional(data["message_id"]), subject=str(data["subject"]),
        sender=_optional(data["sender"]),
        date=datetime.fromisoformat(date) if isinstance(date, str) else None,
        in_reply_to=_strings(data["in_reply_to"]), references=_strings(data["references"]),
        return_path=_optional(data["return_path"]), content_type=str(data["content_type"]),
        headers={str(k): _strings(v) for k, v in headers.items()}, text=str(data["text"]),
        attachments=attachments, dmarc=_optional(data["dmarc"]),
        defects=int(data["defects"]), case_tags=_strings(data["case_tags"]))


def _kind(value: str) -> VerdictKind:
    if value == "form":
        return "form"
    if value == "not_form":
        return "not_form"
    if value == "manual":
        return "manual"
    return "reject"


if __name__ == "__main__":
    worker_main(sys.argv[1:])
