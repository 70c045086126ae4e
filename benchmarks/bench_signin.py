"""Sign-in under attack: parallel wrong guesses, and whether a refusal's time gives away a name.

Through the workspace's own HTTP handling (Flask's test client, a real SQLite store,
argon2id at its production cost):
- burst: 32 wrong passwords for one account, sent by 8 threads at once (4 bursts); then
  whether the account is locked (the right password is refused) and the counters;
- timing: the median time of 20 refused sign-ins each for a wrong password, an unknown
  user name, and an account that is locked, taken in turn, and how far apart they are.
Run: ``python benchmarks/bench_signin.py``.
"""

from __future__ import annotations

import logging
import re
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import local_app
from sqlalchemy import select

from mailbot.store.models import WebUser
from mailbot.web import users
from mailbot.web.factory import create_app

PASSWORD = "correct horse battery"
ROUNDS = 20


def build(folder: Path) -> tuple[Any, Any]:
    app = local_app(
        folder,
        datetime(2026, 10, 12, 9, 15, tzinfo=UTC),
        MAILBOT_MAILBOX_URL=f"maildir:{folder / 'inbox'}",
        MAILBOT_OUTBOUND_URL=f"outbox:{folder / 'outbox'}",
        MAILBOT_WEB_TOTP="off",
    )
    clock = app.clock
    with app.db.session() as session:
        for name in ("burst.target", "timing.wrong", "timing.locked"):
            users.add_user(session, name, "team", PASSWORD, clock.now())
    web = create_app(app, secure_cookies=False)
    web.config["TESTING"] = True
    return app, web


def attempt(web: Any, name: str, password: str) -> tuple[int, float]:
    client = web.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    start = time.perf_counter()
    response = client.post(
        "/sign-in", data={"name": name, "password": password, "csrf_token": token.group(1)}
    )
    return response.status_code, time.perf_counter() - start


def burst(app: Any, web: Any) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: attempt(web, "burst.target", "wrong guess")[0], range(32)))
    with app.db.session() as session:
        user = session.scalars(select(WebUser).where(WebUser.name == "burst.target")).one()
        counter, locked_until = user.failed_logins, user.locked_until
    right = attempt(web, "burst.target", PASSWORD)[0]
    print(
        f"burst: 32 wrong guesses by 8 threads -> {codes.count(401)} refused; account "
        f"counter {counter}, account locked_until {locked_until}; right password afterwards "
        f"-> {'refused (locked)' if right == 401 else 'accepted (NOT locked)'}"
    )
    try:
        from mailbot.store.models import WebSignInFailure  # type: ignore[attr-defined]
    except ImportError:
        return
    with app.db.session() as session:
        rows = session.scalars(select(WebSignInFailure)).all()
        print("       per-address counters:", [(r.failures, r.locked_until is not None) for r in rows])


def timing(web: Any) -> None:
    """The kinds taken in turn, so that a busy machine slows them all alike."""
    for _ in range(6):
        attempt(web, "timing.locked", "wrong guess")
    cases = {
        "wrong password": ("timing.wrong", "wrong guess"),
        "unknown name": ("nobody.here", "wrong guess"),
        "locked account": ("timing.locked", "wrong guess"),
        "locked, right password": ("timing.locked", PASSWORD),
    }
    times: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(ROUNDS):
        for label, (name, password) in cases.items():
            code, took = attempt(web, name, password)
            assert code == 401, (label, code)
            times[label].append(took)
            if name == "timing.wrong":  # keep it below the lockout: the counter starts again
                attempt(web, name, PASSWORD)
    medians = {label: statistics.median(values) for label, values in times.items()}
    for label, value in medians.items():
        print(f"timing: {label:<24} median {value * 1000:7.1f} ms over {ROUNDS}")
    low, high = min(medians.values()), max(medians.values())
    print(f"timing: slowest/fastest = {high / low:.2f}")


def main() -> None:
    logging.getLogger("mailbot").setLevel(logging.ERROR)  # one warning per refusal otherwise
    with tempfile.TemporaryDirectory() as tmp:
        app, web = build(Path(tmp))
        try:
            burst(app, web)
            timing(web)
        finally:
            app.close()


if __name__ == "__main__":
    main()
