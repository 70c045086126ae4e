"""The bot's side of the sandbox: start, feed, time and read back its children."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailbot.forms.limits import READER_FAILED, TOO_COMPLEX
from mailbot.forms.model import AttachmentVerdict
from mailbot.sandbox.answers import form_from, message_from, verdict_kind
from mailbot.sandbox.frames import MAX_JSON, Closed, Timeout, receive, send
from mailbot.sandbox.limits import Breach, Mode, SandboxBreach, SandboxLimits

if TYPE_CHECKING:
    from mailbot.mail.reader import InboundMessage

_KINDS: frozenset[str] = frozenset({"form", "not_form", "reject", "manual"})
#: Variables a child inherits; everything else (MAILBOT_*, secrets) stays behind.
_LOCALE = ("LANG", "LC_ALL", "LC_CTYPE")


def child_env(home: Path) -> dict[str, str]:
    """The whole environment of a worker."""
    package_root = str(Path(__file__).resolve().parent.parent.parent)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "PYTHONPATH": package_root,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
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
                    from mailbot.sandbox.child import prepare_child, serve

                    network = prepare_child(limits)
                    serve(to_child_r, from_child_w, network, 1)
                except BaseException:  # noqa: BLE001 - a forked child must never return
                    code = 1
                os._exit(code)
            self.fork_pid = pid
        else:
            settings = asdict(limits)
            if mode == "spawn":
                settings["recycle_after"] = 1
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "mailbot.sandbox.child",
                    str(to_child_r),
                    str(from_child_w),
                    json.dumps(settings),
                ],
                pass_fds=child_fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=child_env(self.home),
                cwd=self.home,
                start_new_session=True,
            )
        os.close(to_child_r)
        os.close(from_child_w)
        # A sandbox never closed (the bot killed, a script that just ends) still leaves
        # no child and no folder behind.
        self._finalizer = weakref.finalize(self, _discard, self.pid, self.home)

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
        self._finalizer.detach()  # reaped above: its pid must not be signalled again
        shutil.rmtree(self.home, ignore_errors=True)


def _discard(pid: int, home: Path) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    shutil.rmtree(home, ignore_errors=True)


def _breach_of(status: int | None, killed_for_time: bool) -> Breach:
    if killed_for_time:
        return "wall"
    if status in (-signal.SIGXCPU,):
        return "cpu"
    if status == -signal.SIGKILL:  # not by us: the kernel, out of memory
        return "memory"
    return "crash"  # a signal from a library that ran out of memory, or a bug


def breach_verdict(filename: str, content_type: str, data: bytes, limit: Breach) -> AttachmentVerdict:
    """The verdict for a file whose reading was stopped at a hard limit: too complex
    (CPU, memory, wall clock), or, when the reader itself died, one for a person."""
    if limit == "crash":
        return AttachmentVerdict(
            filename=filename,
            kind="manual",
            reason=READER_FAILED,
            content_type=content_type,
            size=len(data),
            data=data,
            breach=limit,
        )
    return AttachmentVerdict(
        filename=filename,
        kind="reject",
        reason=TOO_COMPLEX,
        content_type=content_type,
        size=len(data),
        data=data,
        breach=limit,
    )


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

    def freshen(self, share: float = 0.5) -> None:
        """Between messages (the poller, before it waits): replace a worker past ``share`` of
        ``recycle_after`` now, so its successor starts up (0.3-1 s) while the bot idles."""
        with self._lock:
            worker, due = self._worker, max(1, int(self.limits.recycle_after * share))
            if self.limits.mode == "worker" and worker and not worker.killed and worker.jobs >= due:
                self._retire()

    def __enter__(self) -> AttachmentSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # One request --------------------------------------------------------------------------
    def _exchange(
        self, request: dict[str, Any], payloads: list[bytes], deadline: float, blob_limit: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        worker = self._take_worker()
        worker.jobs += 1
        try:
            send(worker.to_child, json.dumps(request).encode("utf-8"))
            for payload in payloads:
                send(worker.to_child, payload)
            answer = json.loads(receive(worker.from_child, MAX_JSON, deadline))
            if not isinstance(answer, dict):
                raise ValueError("answer")
            count = int(answer.get("blobs", 0))
            blobs = []
            for _ in range(count):
                blob = receive(worker.from_child, blob_limit, deadline, in_place=True)
                blob_limit -= len(blob)
                blobs.append(blob)
        except Timeout:
            worker.kill()
            self._retire()
            raise SandboxBreach("wall") from None
        except (Closed, OSError, ValueError, TypeError) as exc:
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
            answer, _ = self._exchange({"op": "probe", "port": port}, [], time.monotonic() + 30, 0)
            return answer

    def misbehave(self, what: str) -> Breach | None:
        """Make a worker spin, sleep, allocate or crash: the limit that stopped it."""
        with self._lock:
            try:
                self._exchange(
                    {"op": "test", "what": what, "cpu_seconds": self.limits.cpu_seconds},
                    [],
                    time.monotonic() + self.limits.wall_seconds,
                    0,
                )
            except SandboxBreach as breach:
                return breach.limit
            return None

    def read_message(
        self,
        raw: bytes,
        *,
        sender_auth: str = "none",
        trusted_authserv_id: str | None = None,
        sender_auth_tenant_id: str | None = None,
    ) -> InboundMessage:
        """``mail.reader.read_message`` in the child: the bot never parses hostile MIME
        itself, and holds only the raw message and the attachments' bytes (a 25 MB
        attachment costs it about 60 MB instead of about 190 MB).  A message the child
        cannot read within the limits reads as unreadable (held for a person);
        ``last_breach`` says which limit."""
        from mailbot.mail.reader import unreadable

        with self._lock:
            self.last_breach = None
            request = {
                "op": "message",
                "cpu_seconds": self.limits.cpu_seconds,
                "sender_auth": sender_auth,
                "trusted_authserv_id": trusted_authserv_id,
                "sender_auth_tenant_id": sender_auth_tenant_id,
            }
            try:
                answer, blobs = self._exchange(
                    request, [raw], time.monotonic() + self.limits.wall_seconds, len(raw) + 1024
                )
                return message_from(answer["message"], raw, blobs)
            except SandboxBreach as breach:
                self.last_breach = breach.limit
                return unreadable(raw, breach.limit)
            except (KeyError, IndexError, TypeError, ValueError):
                self.last_breach = "crash"
                return unreadable(raw, "crash")

    def read_attachments(
        self, parts: list[tuple[str, str, bytes]], *, max_bytes: int, reference_year: int
    ) -> list[AttachmentVerdict]:
        """As ``forms.read_attachments``, each attachment in the child, the message
        within one budget of CPU, wall time and conversions."""
        with self._lock:
            return self._read(parts, max_bytes, reference_year)

    def _read(
        self, parts: list[tuple[str, str, bytes]], max_bytes: int, year: int
    ) -> list[AttachmentVerdict]:
        from mailbot.safetext import clean_content_type, clean_filename

        deadline = time.monotonic() + self.limits.wall_seconds
        cpu_left = float(self.limits.cpu_seconds)
        conversions = self.limits.conversions
        breached: Breach | None = None
        verdicts: list[AttachmentVerdict] = []
        for filename, content_type, raw in parts:
            data = raw if isinstance(raw, bytes | bytearray) else bytes(raw)  # no copy of 25 MB
            if breached == "cpu" or breached == "wall":  # nothing left for this message
                verdicts.append(
                    breach_verdict(clean_filename(filename), clean_content_type(content_type), data, breached)
                )
                continue
            request = {
                "op": "read",
                "max_bytes": max_bytes,
                "year": year,
                "cpu_seconds": max(1.0, cpu_left),
                "conversions": conversions,
                "wall_seconds": max(1.0, deadline - time.monotonic()),
                "parts": [{"name": filename, "ctype": content_type}],
            }
            try:
                answer, blobs = self._exchange(request, [data], deadline, max_bytes * 4)
                found = self._verdicts(answer, blobs, data)
            except SandboxBreach as breach:
                breached = breach.limit
                verdicts.append(
                    breach_verdict(
                        clean_filename(filename), clean_content_type(content_type), data, breach.limit
                    )
                )
                continue
            cpu_left -= float(answer["used"])
            conversions -= int(answer.get("converted", 0))
            verdicts.extend(found)
            if cpu_left <= 0:
                breached = "cpu"
        self.last_breach = breached
        self.last_conversions = self.limits.conversions - conversions
        return verdicts

    def _verdicts(self, answer: dict[str, Any], blobs: list[bytes], data: bytes) -> list[AttachmentVerdict]:
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
                out.append(
                    AttachmentVerdict(
                        filename=str(item["filename"]),
                        kind=verdict_kind(kind),
                        form=form_from(item.get("form")),
                        reason=str(reason) if reason is not None else None,
                        content_type=str(item["content_type"]),
                        size=int(item["size"]),
                        data=blob,
                    )
                )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise SandboxBreach("crash") from exc
        return out
