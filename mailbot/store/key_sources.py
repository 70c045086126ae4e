"""Where the master key comes from, besides the key file (issue 17, item 6).

- ``store.master_key`` (``MAILBOT_MASTER_KEY``, or ``MAILBOT_MASTER_KEY_FILE`` for a
  systemd credential): the key file's content given as a secret;
- ``store.key_command`` (``MAILBOT_KEY_COMMAND``): a command that prints the key file's
  content, so a council can fetch it from its KMS or HashiCorp Vault at start. It runs
  without a shell, with a time limit; its error output is never shown (it may hold
  tokens), only its exit status.

Both are read-only: ``keys rotate`` and ``keys retire`` need a key file (rotate where
the key lives, then change the secret). A wrong key from either is refused exactly as a
wrong key file is (``key_records``): exit 2 naming the setting, nothing written.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable

from mailbot.errors import KeyFileError

SECRET_SETTING = "store.master_key"  # noqa: S105 - a setting's name, not a password
COMMAND_SETTING = "store.key_command"
COMMAND_TIMEOUT = 30


def from_secret(value: str) -> Callable[[], bytes]:
    content = value.strip().encode("ascii", errors="replace")

    def read() -> bytes:
        if not content:
            raise KeyFileError(SECRET_SETTING, "the master key secret is empty")
        return content

    return read


def from_command(command: str) -> Callable[[], bytes]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise KeyFileError(COMMAND_SETTING, f"cannot be read as a command ({exc})") from exc
    if not argv:
        raise KeyFileError(COMMAND_SETTING, "is empty")

    def read() -> bytes:
        try:
            done = subprocess.run(  # noqa: S603 - the operator's own command, no shell
                argv, capture_output=True, timeout=COMMAND_TIMEOUT, check=False, stdin=subprocess.DEVNULL
            )
        except FileNotFoundError:
            raise KeyFileError(COMMAND_SETTING, f"{argv[0]} was not found") from None
        except subprocess.TimeoutExpired:
            raise KeyFileError(
                COMMAND_SETTING, f"{argv[0]} gave no key within {COMMAND_TIMEOUT} seconds"
            ) from None
        except OSError as exc:
            raise KeyFileError(COMMAND_SETTING, f"{argv[0]} could not run ({exc.strerror})") from None
        if done.returncode != 0:
            raise KeyFileError(
                COMMAND_SETTING, f"{argv[0]} failed (exit status {done.returncode}); no key was read"
            )
        if not done.stdout.strip():
            raise KeyFileError(COMMAND_SETTING, f"{argv[0]} printed no key")
        return bytes(done.stdout)

    return read
