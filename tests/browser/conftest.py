"""Browser tests: Debian chromium driven by Playwright (sync API) against a live server.

Every test in this directory is marked ``browser``. One uvicorn server per test module runs the
real app in a thread on a fresh database (a SQLite file, or the PostgreSQL test database,
emptied first, when ``ATELIER_TEST_DATABASE_URL`` is set); the embedded worker is off and
``live_server.drain()`` delivers outbox events on demand. ``live_server.api`` is an HTTP client
with the bootstrap admin's bearer token for setting data up through the JSON API.

``screenshot(page, name)`` saves ``<name>-phone.png`` (390 px) and ``<name>-desktop.png``
(1280 px) under ``test-artifacts/screenshots/`` (``ATELIER_TEST_ARTIFACTS`` moves it).
Never call ``playwright install``: the browser is the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from atelier.app import create_app
from atelier.platform import outbox
from atelier.platform.db import Database
from atelier.platform.settings import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PG_URL, _truncate_all

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ATELIER_TEST_ARTIFACTS", ROOT / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    db: Database
    settings: Settings
    api: httpx.Client
    _drain: Callable[[], int] = field(repr=False, default=lambda: 0)

    def drain(self) -> int:
        """Deliver every due outbox event now (what the worker does in the background)."""
        return self._drain()


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def live_server(_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("live")
    if PG_URL:
        url = PG_URL
    else:
        shutil.copyfile(_schema, tmp / "atelier.db")
        url = f"sqlite:///{tmp / 'atelier.db'}"
    database = Database(url, pool_size=20)
    if PG_URL:
        _truncate_all(database)
    sock = _free_socket()
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        env="test",
        database_url=url,
        secret_key="test-secret-key-0123456789abcdef-0123456789",
        webhook_secret="test-webhook-secret",
        bootstrap_admin_email=ADMIN_EMAIL,
        bootstrap_admin_password=ADMIN_PASSWORD,
        embedded_worker=False,
        storage_dir=tmp / "media",
        public_base_url=base,
    )
    outbox.clear_wakeups()
    app = create_app(settings, database=database, start_background=False)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)

    from atelier.platform.dispatcher import OutboxDispatcher

    dispatcher = OutboxDispatcher(database, worker_id="browser-tests")
    token = httpx.post(
        f"{base}/auth/admin/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ).json()["token"]
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    try:
        yield LiveServer(
            base, app, database, settings, api, lambda: dispatcher.drain(raise_errors=True)
        )
    finally:
        api.close()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        database.dispose()
        outbox.clear_wakeups()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: while Playwright's sync API runs, its event loop counts as
    # "running" in the main thread, and later tests that call asyncio.run() would fail.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A fresh tab; the test fails if the page logs an error (a CSP refusal, a script error)."""
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    yield tab
    # Status codes the tests provoke on purpose (401, 403, 409, 422) are logged as errors too.
    unexpected = [p for p in problems if not re.search(r"status of (4\d\d)", p)]
    assert not unexpected, unexpected


def sign_in(page: Page, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    """Sign in through the form (from wherever the page is)."""
    if "/app/sign-in" not in page.url:
        page.goto("/app/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@pytest.fixture
def admin_page(page: Page) -> Page:
    """A tab signed in as the bootstrap admin, on the overview page."""
    sign_in(page)
    assert page.url.endswith("/app"), page.url
    return page


def screenshot(page: Page, name: str) -> list[Path]:
    """Save the current page at phone and desktop widths; returns the two paths."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    page.set_viewport_size(DESKTOP)
    return saved


def no_horizontal_scroll(page: Page) -> bool:
    """True when the page fits its viewport's width (no sideways scrolling on a phone)."""
    result: Any = page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
    )
    return bool(result)
