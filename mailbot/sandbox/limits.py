"""The sandbox's limits, its breaches, and what LibreOffice gets inside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mailbot.errors import FormError
from mailbot.forms.limits import MAX_CONVERSIONS

Mode = Literal["worker", "spawn", "fork"]
Breach = Literal["cpu", "memory", "wall", "crash"]

#: LibreOffice needs about 500 MB of address space of its own.
CONVERT_MEMORY_MB = 1536
CONVERT_OPEN_FILES = 256
CONVERT_FILE_MB = 256


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
        return cls(
            cpu_seconds=max(1, int(settings.sandbox_cpu_seconds)),
            memory_mb=max(64, int(settings.sandbox_memory_mb)),
            wall_seconds=float(max(1, int(settings.sandbox_wall_seconds))),
        )
