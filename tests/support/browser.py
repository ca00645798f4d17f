"""A real browser for the dashboard's tests: Debian's chromium, headless, driven by Playwright.

Playwright never downloads a browser here (``executable_path`` names the system's). The flags
keep chromium from reaching for the internet, which this machine refuses (background
networking, component updates, sync). Each test's ``tab`` is in a fresh browser context: no
cookie or storage crosses tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = os.environ.get("MAGNA_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
# Every wait of a browser test is bounded by this (a page that never shows what is expected
# fails the test instead of hanging it).
TIMEOUT_MS = 20_000
# NOTE: the contexts' default timeout bounds actions only; assertions have their own (5 s).
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: ./dev installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def new_tab(chromium: Browser) -> tuple[BrowserContext, Page]:
    """A page in a context of its own (cookies of its own: a second user, say)."""
    ctx = chromium.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx, ctx.new_page()


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Page]:
    """A browser tab that shares nothing with other tests."""
    ctx, page = new_tab(chromium)
    try:
        yield page
    finally:
        ctx.close()


# NOTE: tests render every main page to a picture; only a run with this set replaces the ones
# kept in docs/dashboard/ (so a test run leaves the checkout as it found it).
UPDATE_SCREENSHOTS = os.environ.get("MAGNA_UPDATE_SCREENSHOTS") == "1"


def screenshot(page: Page, name: str) -> None:
    """Picture a main page; kept in docs/dashboard/ with ``MAGNA_UPDATE_SCREENSHOTS=1``."""
    picture = page.screenshot(full_page=False)
    assert picture.startswith(b"\x89PNG"), name
    if UPDATE_SCREENSHOTS:
        target = Path(__file__).resolve().parents[2] / "docs" / "dashboard" / f"{name}.png"
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(picture)
