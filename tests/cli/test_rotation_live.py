"""Two key rotations while ``mailbot poll`` and ``mailbot serve`` run and new cases
arrive: every case decrypts afterwards and the workspace answers 200 throughout; then
another installation's key file is refused with exit 2 and nothing is written."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from helpers.bot import make_env, simple_referral
from helpers.servers import free_port
from sqlalchemy import select

from mailbot.app import build_app
from mailbot.cases import store as case_store
from mailbot.mail.maildir import MaildirMailbox
from mailbot.settings import load_settings
from mailbot.store.keys import KeyStore
from mailbot.store.models import Case, InboundMessage

MAILBOT = [sys.executable, "-m", "mailbot"]
PASSWORD = "correct horse battery"


def _run(
    env: dict[str, str], cwd: Path, *argv: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAILBOT, *argv],
        env=env,
        cwd=cwd,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )


def _wait(predicate, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _case_count(tmp_path: Path, env: dict[str, str]) -> int:
    app = build_app(load_settings(env=env, base_dir=tmp_path))
    try:
        with app.db.session() as session:
            return len(session.scalars(select(Case.id)).all())
    finally:
        app.close()


def _signed_in(url: str) -> requests.Session:
    web = requests.Session()
    page = web.get(f"{url}/sign-in", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    done = web.post(
        f"{url}/sign-in",
        data={"name": "tess.team", "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert done.status_code == 302, done.text[:300]
    return web


def test_rotating_twice_under_running_poll_and_serve(tmp_path: Path, database_url: str) -> None:
    import os

    env = {
        **os.environ,
        **make_env(tmp_path, database_url, MAILBOT_POLL_INTERVAL="1", MAILBOT_WEB_TOTP="off"),
    }
    env.pop("MAILBOT_CONFIG", None)
    assert _run(env, tmp_path, "init").returncode == 0
    assert (
        _run(
            env, tmp_path, "users", "add", "tess.team", "--role", "team", stdin=f"{PASSWORD}\n{PASSWORD}\n"
        ).returncode
        == 0
    )
    box = MaildirMailbox(tmp_path / "var" / "inbox")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    poller = subprocess.Popen(
        [*MAILBOT, "poll"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    server_log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*MAILBOT, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    codes: list[int] = []
    stop = threading.Event()
    try:
        sent = 0
        for _ in range(3):
            sent += 1
            box.append(simple_referral(sent, "live"))
        _wait(lambda: _case_count(tmp_path, env) == sent, 60, "the first cases")

        def _up() -> bool:
            try:
                return requests.get(f"{url}/sign-in", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        _wait(_up, 60, "the workspace")
        web = _signed_in(url)

        def browse() -> None:  # a person reading cases all the while
            n = 0
            while not stop.is_set():
                n += 1
                for path in ("/queue", f"/cases/COC-2026-{1 + n % 3:04d}"):
                    codes.append(web.get(url + path, allow_redirects=False, timeout=30).status_code)
                time.sleep(0.05)

        reader = threading.Thread(target=browse)
        reader.start()
        for _ in range(2):
            rotation = subprocess.Popen(
                [*MAILBOT, "keys", "rotate"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            while rotation.poll() is None:  # new cases arrive during the rotation
                sent += 1
                box.append(simple_referral(sent, "live"))
                time.sleep(0.1)
            out, err = rotation.communicate()
            assert rotation.returncode == 0, out + err
            for _ in range(3):
                sent += 1
                box.append(simple_referral(sent, "live"))
            time.sleep(1)
        _wait(lambda: _case_count(tmp_path, env) == sent, 120, "every case")
        time.sleep(1)
        stop.set()
        reader.join(timeout=60)
        assert codes and set(codes) == {200}, (
            sorted(set(codes)),
            (tmp_path / "serve.log").read_text()[-2000:],
        )
        assert poller.poll() is None, poller.stderr.read() if poller.stderr else ""
    finally:
        stop.set()
        poller.send_signal(signal.SIGTERM)
        server.send_signal(signal.SIGTERM)
        poller.wait(timeout=60)
        server.wait(timeout=60)
        server_log.close()
    keys = KeyStore(tmp_path / "var" / "master.key").load()
    assert keys.current_version == 3 and set(keys.versions) == {3}
    app = build_app(load_settings(env=env, base_dir=tmp_path))
    try:
        with app.db.session() as session:  # a process that starts now reads every record
            cases = list(session.scalars(select(Case)))
            assert len(cases) == sent
            for case in cases:
                case_store.load_referral(session, app.vault, case)
            for row in session.scalars(select(InboundMessage)):
                app.vault.open_text(session, row, "sender_enc")
    finally:
        app.close()

    # Another installation's key file: refused, exit 2, nothing written or sent.
    shutil.move(tmp_path / "var" / "master.key", tmp_path / "ours.key")
    KeyStore(tmp_path / "var" / "master.key").create()
    sent += 1
    box.append(simple_referral(sent, "live"))
    outbox = sorted((tmp_path / "var" / "outbox").iterdir())
    done = _run(env, tmp_path, "poll", "--once")
    assert done.returncode == 2 and "store.key_file" in done.stderr, done.stderr
    assert sorted((tmp_path / "var" / "outbox").iterdir()) == outbox
    assert len(list(box.list_new())) == 1
    shutil.move(tmp_path / "ours.key", tmp_path / "var" / "master.key")
    assert _case_count(tmp_path, env) == sent - 1
