import os
import shutil

import pytest
from playwright.sync_api import sync_playwright

# Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are
# synchronous and safe, so Django's guard against ORM use inside async code is lifted here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium tries to reach Google's hosts at start; this machine has no network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    assert shutil.which(CHROMIUM), "Chromium is missing: install Debian's chromium (scripts/test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
