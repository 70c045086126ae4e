"""A worn sandbox worker is replaced while the bot idles, not in front of a message."""

from __future__ import annotations

from mailbot.sandbox import AttachmentSandbox, SandboxLimits


def test_freshen_replaces_a_worker_past_half_its_jobs_and_only_then() -> None:
    with AttachmentSandbox(SandboxLimits(recycle_after=4)) as sandbox:
        sandbox.freshen()  # no worker yet: nothing to replace, nothing started
        assert sandbox._worker is None
        sandbox.probe()
        first = sandbox._worker
        assert first is not None and first.jobs == 1
        sandbox.freshen()
        assert sandbox._worker is first  # 1 of 4 jobs: kept
        sandbox.probe()
        sandbox.freshen()  # 2 of 4: replaced now, the successor already starting
        second = sandbox._worker
        assert second is not None and second is not first and second.jobs == 0
        assert first.killed
        assert sandbox.probe()  # the successor answers
