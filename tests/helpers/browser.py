"""Headless Chromium for the workspace's browser tests: a served bot, a driver, axe-core.

Debian's ``chromium`` and ``chromium-driver`` and axe-core from npm (``npm ci`` at the
repository root) are needed; without them a test skips (and fails under CI).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from helpers.services import missing_service
from helpers.workspace import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def need_tools() -> None:
    for path, what in ((CHROMIUM, "Debian's chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            missing_service(f"{what} is not installed at {path}")
    if not AXE.exists():
        missing_service("axe-core is not installed (npm ci at the repository root)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing_service("selenium is not installed (pip install -e '.[test]')")


@contextmanager
def served(web: Any) -> Iterator[str]:
    """The Flask app under waitress on a free loopback port; yields its base URL."""
    from waitress.server import create_server

    srv = create_server(web, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.effective_port}"
    finally:
        srv.close()
        thread.join(timeout=5)


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """Headless Chromium at 1280x1000 in British English; ``extra_args`` are added as they are."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--window-size=1280,1000",
        "--lang=en-GB",
        *extra_args,
    ):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


def by_css(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def submit(driver: Any, css: str = "form.form button[type=submit]") -> None:
    """Click a submit button (or link) and wait until the next page has replaced this one."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__mailbotOldPage = true;")
    by_css(driver, css).click()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return window.__mailbotOldPage === undefined && document.readyState === 'complete'"
        )
    )


def sign_in(driver: Any, url: str, name: str, password: str = PASSWORD) -> None:
    driver.delete_all_cookies()
    driver.get(url + "/sign-in")
    by_css(driver, "#name").send_keys(name)
    by_css(driver, "#password").send_keys(password)
    submit(driver)


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core findings on the page now shown."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(30)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
        AXE_TAGS,
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def screenshot(driver: Any, path: Path) -> None:
    """The whole page (up to 4,000 pixels high) as a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(max(900, height), 4000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
