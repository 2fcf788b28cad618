"""Fixtures of the browser tier: one full stack per test process, shared by every module (each
module signs up users of its own), one Debian Chromium per module, and the signed-in chat page a
test starts from (the module's ``context`` fixture names its user and viewport).

Chromium is per module, not per process: Playwright's sync API keeps an event loop running in
the test thread while it is open, and Django refuses database calls from a thread with a running
loop (SynchronousOnlyOperation), so an open browser would break every later database test."""

from __future__ import annotations

import pytest

from tests.browser.helpers import ARTIFACTS, CHROMIUM_ARGS, ready


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def stack(live_stack):
    return live_stack


@pytest.fixture
def page(context):
    """A new tab of the module's signed-in user on the chat, connected and loaded; any page
    error it raised fails the test."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")
    ready(page)
    yield page
    page.close()
    assert not errors, errors
