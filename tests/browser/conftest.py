"""Fixtures of the browser tier: one Debian Chromium per module (a module may override it)."""

from __future__ import annotations

import pytest

from tests.browser.helpers import ARTIFACTS, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
