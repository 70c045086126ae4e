"""Building a configured bot for tests: its settings, the sample messages, bulk mail."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helpers.services import missing_service
from mailbot.app import App, build_app
from mailbot.clock import FixedClock
from mailbot.sandbox import AttachmentSandbox, SandboxLimits
from mailbot.settings import load_settings

DATA = Path(__file__).resolve().parents[1] / "data"
EMAILS = DATA / "emails"
PEER_MAIL = Path(__file__).resolve().parents[3] / "shared" / "peer-mail"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TRUSTED = "mx.cscp.example.org"


def make_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "MAILBOT_MAILBOX_URL": f"maildir:{tmp_path / 'var' / 'inbox'}",
        "MAILBOT_OUTBOUND_URL": f"outbox:{tmp_path / 'var' / 'outbox'}",
        "MAILBOT_DATABASE_URL": database_url,
        "MAILBOT_KEY_FILE": str(tmp_path / "var" / "master.key"),
        "MAILBOT_TRUSTED_AUTHSERV_ID": TRUSTED,
        "MAILBOT_TEAM_ADDRESS": "cscp-team@example.org",
    }
    env.update(extra)
    return env


_SHARED: list[AttachmentSandbox] = []


def shared_sandbox() -> AttachmentSandbox:
    """One sandbox (default limits) for every test bot: its worker starts once per run,
    not once per test.  Tests of the limits make their own."""
    if not _SHARED:
        _SHARED.append(AttachmentSandbox(SandboxLimits()))
    return _SHARED[0]


def make_app(tmp_path: Path, database_url: str, clock: FixedClock, **extra: str) -> App:
    settings = load_settings(env=make_env(tmp_path, database_url, **extra), base_dir=tmp_path)
    own = any(name.startswith("MAILBOT_SANDBOX_") for name in extra)
    app = build_app(settings, clock=clock, sandbox=None if own else shared_sandbox())
    app.prepare()
    return app


def prepare_state() -> None:
    """What ``mailbot init`` makes (the master key and the schema), from the settings in
    the environment and the working folder, without touching the mailbox: commands
    other than init and demo refuse to run where there is no key."""
    app = build_app(load_settings())
    app.prepare()
    app.close()


def eml(name: str) -> bytes:
    return (EMAILS / f"{name}.eml").read_bytes()


def simple_referral(n: int, tag: str = "msg") -> bytes:
    """A short referral e-mail without a form (the bot asks for it): cheap bulk traffic."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"referrer{n}@school.example.org"
    msg["To"] = "cscp@example.org"
    msg["Subject"] = "Case of concern referral"
    msg["Date"] = "Mon, 12 Oct 2026 08:00:00 +0100"
    msg["Message-ID"] = f"<{tag}-{n}@school.example.org>"
    msg.set_content("Please find attached a case of concern referral.")
    return msg.as_bytes()


def run_two_workers(tmp_path: Path, env: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    """``mailbot init``, then two ``poll --once`` processes at once; their summaries and
    the ``messages --json`` rows afterwards."""
    import json
    import subprocess
    import sys

    mailbot = [sys.executable, "-m", "mailbot"]
    subprocess.run([*mailbot, "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    workers = [
        subprocess.Popen(
            [*mailbot, "poll", "--once"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    rows = json.loads(
        subprocess.run(
            [*mailbot, "messages", "--json"],
            env=env,
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return [out.decode() for out, _err in outputs], rows


def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database of its own (yielded as a URL), dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True, connect_timeout=3
        )
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not usable here
        missing_service(f"PostgreSQL at 127.0.0.1:5432 is not reachable ({type(exc).__name__})")
        return
    name = "mailbot_t_" + secrets.token_hex(4)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
