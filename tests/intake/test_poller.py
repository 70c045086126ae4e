"""The poll loop as a process: it stops cleanly whenever it is asked to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.bot import make_env


@pytest.mark.parametrize("delay", [0.3, 0.8])
def test_a_stop_during_start_up_exits_cleanly(tmp_path: Path, delay: float) -> None:
    """SIGTERM before the poller's own handler exists (the imports take a second or two
    on a busy machine) still ends with exit 0, not death by signal (143)."""
    url = f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}"
    env = {**os.environ, **make_env(tmp_path, url), "MAILBOT_POLL_INTERVAL": "60"}
    subprocess.run(
        [sys.executable, "-m", "mailbot", "init"], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailbot", "poll"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
