"""Files the bot writes that hold personal data (the agenda pack): owner-only from the
first byte, replaced whole, never written through a link.

``os.open(path, O_CREAT | O_TRUNC, 0o600)`` is not enough: on an existing file the mode
is left as it was (a pack once made 0644 stays readable by everyone, with the new data
in it), and a symbolic link planted at the path is followed, so the pack lands wherever
it points. Instead the data goes to a new file beside the target, created exclusively
(``O_EXCL | O_NOFOLLOW``) with mode 0600, and is renamed over the target: ``rename``
replaces a file or a link itself, atomically, and a reader sees the old file or the whole
new one, never a part.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from mailbot.errors import UsageError


def refuse_link(path: Path, what: str) -> None:
    """A usage error when ``path`` is a symbolic link (a folder given with ``--out``)."""
    if path.is_symlink():
        raise UsageError(f"{what}: {path} is a symbolic link; give the real folder")


def write_private(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` (mode 0600), replacing whatever is there."""
    temp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask left
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target
