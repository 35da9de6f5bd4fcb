"""Pages driven in a real Chromium: Playwright for Python with Debian's `chromium`.

Browsers are never downloaded: Playwright launches the executable at `LAUREL_CHROMIUM`
(default `/usr/bin/chromium`, from Debian's `chromium` package, which `.ci/run` installs). Without
it these tests skip and say so, unless `REQUIRE_BROWSER=1` (CI), which makes that a failure.

Each test gets a fresh browser context on a live Laurel (the demo program, see
`tests/live_server.py`) and a `BrowserPage` around it that:
- refuses and records every request to a host other than 127.0.0.1 (pages must work offline),
- records console errors and uncaught page errors,
- fails the test at teardown if either list is not empty,
- writes screenshots to `test-artifacts/screenshots/` (not committed) for a reviewer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, Route, sync_playwright

from tests.live_server import LiveServer, live_server

CHROMIUM = Path(os.environ.get("LAUREL_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(
    os.environ.get(
        "LAUREL_SCREENSHOTS", Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
    )
)
# The flags that keep Chromium from calling out on its own (updates, sync, field trials): this
# machine's network is closed, and a page test must see only the requests the page makes.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1"}


def browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER") == "1"


# Package-scoped, not session-scoped: Playwright's sync API keeps an event loop running on the
# main thread while it is started, and pytest-asyncio cannot run the async tests of other
# packages beside it. It is stopped when the last page test has run.
@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = (
            f"Chromium not found at {CHROMIUM}: install Debian's chromium package"
            " (apt-get install chromium) or set LAUREL_CHROMIUM"
        )
        if browser_required():
            pytest.fail(f"{message}; REQUIRE_BROWSER=1 makes this an error")
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    launched = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("browser")) as running:
        yield running


@dataclass
class BrowserPage:
    """A page of a fresh context, with what it did that a test must not let pass."""

    page: Page
    server: LiveServer
    name: str
    foreign_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)

    def screenshot(self, label: str, *, width: int | None = None) -> Path:
        """Writes `<test>-<label>.png` (full page); `width` resizes the viewport first."""
        if width is not None:
            self.page.set_viewport_size({"width": width, "height": 900})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.screenshots.append(path)
        return path


def safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::")[-1]).strip("_")


@pytest.fixture
def browser_page(
    browser: Browser, server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[BrowserPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    recorded = BrowserPage(page, server, safe_name(request.node.nodeid))

    def guard(route: Route, outgoing: Request) -> None:
        host = urlsplit(outgoing.url).hostname
        if outgoing.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            recorded.foreign_requests.append(outgoing.url)
            route.abort()

    context.route("**/*", guard)
    page.on(
        "console",
        lambda message: (
            recorded.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: recorded.console_errors.append(str(error)))
    try:
        yield recorded
    finally:
        context.close()
    assert recorded.foreign_requests == [], "the page asked for hosts other than 127.0.0.1"
    assert recorded.console_errors == [], "the page logged errors"
