"""Every hostile shape of issue 13: wall time and peak memory, beside a normal referral.

Each shape runs in its own process (so one that never finishes is killed after
``--timeout`` seconds and reported as such): the message is read (``read_message``),
then its attachments (through the sandbox when ``mailbot.sandbox`` exists, else
in-process, as the code before issue 13 did), then a normal referral (mail-01) is read
the same way in the same process.  Columns: the hostile message's wall time, the peak
RSS of the main process and of its children (the sandbox worker, LibreOffice), the
verdicts, and the normal referral's wall time right after.

Run: ``python benchmarks/bench_hostile.py [--timeout 90] [--only a,b] [--json out.json]``;
it exits 1 when a target of issue 13 is missed (``missed_targets``).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import hostile  # noqa: E402

NORMAL = ROOT / "tests" / "data" / "emails" / "mail-01-referral-complete.eml"
_SANDBOX: list = []


def _child_mb() -> float:
    """The sandbox workers' own peak (they report VmHWM), else waited-for children's."""
    if _SANDBOX:
        return float(_SANDBOX[0].child_peak_mb)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _reader():  # type: ignore[no-untyped-def]
    from mailbot.mail.reader import read_message

    try:
        from mailbot.sandbox import AttachmentSandbox, SandboxLimits
    except ImportError:
        from mailbot.forms import read_attachments

        def read_forms(msg):  # type: ignore[no-untyped-def]
            parts = [(a.filename, a.content_type, a.data) for a in msg.attachments if not a.inline]
            return read_attachments(parts, max_bytes=25 * 1024 * 1024, reference_year=2026)

        return read_message, read_forms, "in-process"
    sandbox = AttachmentSandbox(SandboxLimits())
    _SANDBOX.append(sandbox)

    def read_sandboxed(msg):  # type: ignore[no-untyped-def]
        parts = [(a.filename, a.content_type, a.data) for a in msg.attachments if not a.inline]
        return sandbox.read_attachments(parts, max_bytes=25 * 1024 * 1024, reference_year=2026)

    return sandbox.read_message, read_sandboxed, "sandbox"


def one(path: Path) -> None:
    """Child mode: read one message, then the normal referral; print one JSON line."""
    read_message, read_forms, how = _reader()
    warm = read_message(NORMAL.read_bytes())
    read_forms(warm)  # start-up costs (imports, the worker) are not the hostile message's
    raw = path.read_bytes()
    start = time.perf_counter()
    msg = read_message(raw)
    read_s = time.perf_counter() - start
    verdicts = read_forms(msg) if msg.attachments else []
    hostile_s = time.perf_counter() - start
    del raw, msg
    start = time.perf_counter()
    normal = read_forms(read_message(NORMAL.read_bytes()))
    normal_s = time.perf_counter() - start
    print(
        json.dumps(
            {
                "how": how,
                "wall_s": hostile_s,
                "read_message_s": read_s,
                # VmHWM, not ru_maxrss: the latter survives exec and would count the parent's.
                "main_mb": _hwm(os.getpid()),
                "child_mb": _child_mb(),
                "verdicts": sorted(
                    {
                        f"{v.kind}" + (f":{(v.reason or '')[:40]}" if v.kind != "form" else "")
                        for v in verdicts
                    }
                ),
                "normal_s": normal_s,
                "normal_ok": [v.kind for v in normal] == ["form"],
            }
        ),
        flush=True,
    )


def _hwm(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_shape(path: Path, timeout: float, max_mb: float = 4096) -> dict[str, object]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--one", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _hwm(proc.pid) or 0.0)
        elapsed = time.perf_counter() - start
        if elapsed > timeout or peak > max_mb:
            # Killed before it takes the machine (the code before issue 13 grew to 14 GB).
            os.killpg(proc.pid, 9)
            proc.wait()
            return {"killed": "memory" if peak > max_mb else "time", "wall_s": elapsed, "main_mb": peak}
        time.sleep(0.05)
    out, err = proc.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        return {
            "error": (err.strip().splitlines() or ["no output"])[-1][:80],
            "wall_s": time.perf_counter() - start,
            "main_mb": peak,
        }
    return json.loads(lines[-1])


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        type(self).hits += 1
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--max-mb", type=float, default=4096.0)
    parser.add_argument("--only", default="")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.one:
        one(Path(args.one))
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/x.png"
    shapes = dict(hostile.SHAPES)
    shapes["odt_remote_image"] = lambda: hostile.with_attachment(
        "referral.odt", hostile.odt("Referral", image_url=url)
    )
    wanted = [s for s in args.only.split(",") if s]
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        normal = run_shape(NORMAL, args.timeout, args.max_mb)
        results["normal_referral"] = normal
        for name, build in shapes.items():
            if wanted and name not in wanted:
                continue
            path = Path(tmp) / f"{name}.eml"
            path.write_bytes(build())
            results[name] = run_shape(path, args.timeout, args.max_mb)
            if name == "odt_remote_image":
                results[name]["http_hits"] = _Counter.hits
            print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    print(f"{'shape':30s} {'wall s':>9s} {'main MB':>8s} {'child MB':>9s} {'next s':>7s}  verdicts")
    for name, r in results.items():
        wall = f">{r['wall_s']:.0f}" if r.get("killed") else f"{r['wall_s']:.2f}"
        child = f"{r['child_mb']:.0f}" if isinstance(r.get("child_mb"), float) else "-"
        nxt = f"{r['normal_s']:.2f}" if isinstance(r.get("normal_s"), float) else "-"
        what = (
            f"killed ({r['killed']})"
            if r.get("killed")
            else r.get("error") or ", ".join(r.get("verdicts", []))
        )  # type: ignore[arg-type]
        if "http_hits" in r:
            what = f"{what}; HTTP hits {r['http_hits']}"
        print(f"{name:30s} {wall:>9s} {r['main_mb']:>8.0f} {child:>9s} {nxt:>7s}  {what}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    missed = missed_targets(results)
    for line in missed:
        print(f"TARGET MISSED: {line}")
    sys.exit(1 if missed else 0)


#: Issue 13's targets: no message longer than the wall limit plus 2 s, the next normal
#: referral read within 5 s, the main process under 200 MB.
WALL_LIMIT = 60.0


def missed_targets(results: dict[str, dict[str, object]]) -> list[str]:
    missed = []
    for name, r in results.items():
        wall, nxt, main_mb = r.get("wall_s"), r.get("normal_s"), r.get("main_mb")
        if r.get("killed") or r.get("error"):
            missed.append(f"{name}: {r.get('killed') or r.get('error')}")
        if isinstance(wall, float) and wall > WALL_LIMIT + 2:
            missed.append(f"{name}: {wall:.1f} s")
        if isinstance(nxt, float) and nxt > 5:
            missed.append(f"{name}: next referral after {nxt:.1f} s")
        if isinstance(main_mb, float) and main_mb >= 200:
            missed.append(f"{name}: main process {main_mb:.0f} MB")
        if r.get("normal_ok") is False:
            missed.append(f"{name}: the next referral was not read as a form")
        if r.get("http_hits"):
            missed.append(f"{name}: LibreOffice reached the network")
    return missed


if __name__ == "__main__":
    main()
