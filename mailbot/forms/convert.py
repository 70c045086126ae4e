"""LibreOffice, run safely: old formats (.doc, .odt) to .docx, and .docx to PDF.

Every run of ``soffice`` here (the reader's conversions and the agenda pack's PDF) is
the same hardened invocation:

- a fresh private folder and a fresh profile whose settings refuse remote content
  (``BlockUntrustedRefererLinks``), never update links, and never run macros;
- no network: its own network namespace (``unshare --net`` as root, ``unshare -rn``
  otherwise) wherever the machine allows one, which is checked once per process;
- a scrubbed environment: only PATH, HOME (the private folder), TMPDIR and the locale,
  so no password or secret of the bot is ever inherited;
- hard limits (``prlimit``: address space, CPU seconds, open files, file size, no core
  files) and a wall-clock timeout after which its whole process group is killed.

The referrer's file name is never used on disk.  Without LibreOffice the file is
refused with a request for a .docx or PDF copy.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mailbot.errors import FormRejected
from mailbot.store.private_file import write_private

NEEDS_DOCX = (
    "The form is in an older or different word-processor format that we cannot read. "
    "Please save it as a Word document (.docx) or PDF and send it again."
)
TIMEOUT_SECONDS = 60

#: The profile's settings (registrymodifications.xcu): no remote loading, no link
#: updates, no macros.  Checked against LibreOffice 7.4's schema (main.xcd).
_HARDENED = {
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks"): "true",
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel"): "3",
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution"): "true",
    ("/org.openoffice.Office.Writer/Content/Update", "Link"): "0",
    ("/org.openoffice.Office.Calc/Content/Update", "Link"): "0",
    ("/org.openoffice.Office.Common/Misc", "FirstRun"): "false",
}
#: Variables the converter may see; everything else (MAILBOT_*, passwords) is dropped.
_LOCALE = ("LANG", "LC_ALL", "LC_CTYPE")


@dataclass(frozen=True)
class ConvertLimits:
    """Hard limits for one LibreOffice run (it needs about 500 MB of address space)."""

    timeout: float = TIMEOUT_SECONDS
    cpu_seconds: int = 60
    memory_mb: int = 1536
    open_files: int = 256
    file_mb: int = 256
    #: Its own session, killed as a group on timeout; inside the sandbox it stays in the
    #: worker's group instead, so killing the worker's group kills LibreOffice too.
    own_session: bool = True


def soffice_path() -> str | None:
    """Where LibreOffice is, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _works(command: list[str]) -> bool:
    try:
        return (
            subprocess.run(  # noqa: S603 - our own converter, arguments as a list
                command, capture_output=True, timeout=10, check=False
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def network_isolation() -> list[str]:
    """The command prefix that gives a child its own (empty) network namespace, or []."""
    unshare = shutil.which("unshare")
    true = shutil.which("true")
    if unshare is None or true is None:
        return []
    for flags in (["--net"], ["-r", "--net"]):
        if _works([unshare, *flags, "--", true]):
            return [unshare, *flags, "--"]
    return []


@functools.cache
def _prlimit() -> str | None:
    return shutil.which("prlimit")


def isolation() -> str:
    """How LibreOffice is kept off the network here: ``namespace`` or ``profile`` only."""
    return "namespace" if network_isolation() else "profile"


def child_env(home: Path) -> dict[str, str]:
    """The whole environment a converter gets: nothing inherited but the locale."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "SAL_USE_VCLPLUGIN": "svp",
    }
    for name in _LOCALE:
        if name in os.environ:
            env[name] = os.environ[name]
    env.setdefault("LANG", "C.UTF-8")
    return env


def write_profile(profile: Path, *, hardened: bool = True) -> None:
    """A fresh user profile, with the hardened settings in place before the first start."""
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    items = "".join(
        f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}'
        "</value></prop></item>\n"
        for (path, name), value in (_HARDENED.items() if hardened else ())
    )
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<oor:items '
        'xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n' + items + "</oor:items>\n",
        encoding="utf-8",
    )


def run_soffice(
    source: Path,
    target: str,
    outdir: Path,
    limits: ConvertLimits,
    *,
    isolate_network: bool = True,
    hardened: bool = True,
) -> Path | None:
    """Convert ``source`` to ``target`` (a format LibreOffice names: docx, pdf) in
    ``outdir``; the converted file, or None when LibreOffice made none in time."""
    soffice = soffice_path()
    if soffice is None:
        return None
    with tempfile.TemporaryDirectory(prefix="mailbot-lo-") as tmp:
        home = Path(tmp)
        write_profile(home / "profile", hardened=hardened)
        command = [
            soffice,
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--nologo",
            "--nodefault",
            f"-env:UserInstallation=file://{home / 'profile'}",
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            str(source),
        ]
        prlimit = _prlimit()
        if prlimit is not None:
            command = [
                prlimit,
                f"--as={limits.memory_mb * 1024 * 1024}",
                f"--cpu={max(1, limits.cpu_seconds)}",
                f"--nofile={limits.open_files}",
                f"--fsize={limits.file_mb * 1024 * 1024}",
                "--core=0",
                "--",
                *command,
            ]
        if isolate_network:
            command = [*network_isolation(), *command]
        try:
            proc = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=child_env(home),
                cwd=home,
                start_new_session=limits.own_session,
            )
        except OSError:
            return None
        try:
            proc.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            if limits.own_session:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # LibreOffice's helpers too
                except ProcessLookupError:
                    pass
            else:
                proc.kill()
            proc.wait()
    result = outdir / f"{source.stem}.{target}"
    return result if result.is_file() else None


def to_docx(data: bytes, suffix: str, limits: ConvertLimits | None = None) -> bytes:
    """The document converted to .docx; FormRejected when that is not possible."""
    if soffice_path() is None:
        raise FormRejected(NEEDS_DOCX)
    with tempfile.TemporaryDirectory(prefix="mailbot-convert-") as tmp:
        folder = Path(tmp)
        source = folder / f"input.{suffix}"
        source.write_bytes(data)
        (folder / "out").mkdir()
        result = run_soffice(source, "docx", folder / "out", limits or ConvertLimits())
        if result is None:
            raise FormRejected(NEEDS_DOCX)
        return result.read_bytes()


def to_pdf(docx_path: Path, timeout: float = 180.0) -> Path | None:
    """The agenda pack's PDF beside its .docx (mode 0600 from its first byte, replacing
    any file or link there); None when LibreOffice is absent or fails (the .docx stands
    on its own)."""
    limits = ConvertLimits(timeout=timeout, cpu_seconds=int(timeout))
    with tempfile.TemporaryDirectory(prefix="mailbot-pdf-") as tmp:
        made = run_soffice(docx_path, "pdf", Path(tmp), limits)
        if made is None:
            return None
        return write_private(docx_path.with_suffix(".pdf"), made.read_bytes())
