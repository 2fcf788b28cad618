"""What a new user does in the chat, in Debian's Chromium against the full stack: Enter makes an
image, a regenerate differs, the viewer and its tools work by keyboard, progress is honest, and
images and chats can be managed. One stack and one browser for the module."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.live_stack import Stack
from tests.test_ui_browser import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    PASSWORD,
    finished,
    new_embed,
    png_bytes,
    ready,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-workflow")]


@pytest.fixture(scope="module")
def stack():
    with Stack(web_workers=1, worker_processes=1) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser, stack):
    context = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto("/signup/")
    page.fill("input[name=username]", "newuser")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    page.close()
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")
    ready(page)
    yield page
    page.close()
    assert not errors, errors


def new_chat(page) -> None:
    page.click("[data-testid=new-chat]")
    page.wait_for_selector("li.empty")


def focused_testid(page) -> str | None:
    return page.evaluate("document.activeElement?.dataset?.testid || null")


def original_pixels(page, embed_id: str) -> bytes:
    body = page.request.get(f"/v1/embeds/{embed_id}/file?format=original").body()
    return Image.open(io.BytesIO(body)).convert("RGB").tobytes()


# --- 1. a plain message goes somewhere ----------------------------------------------------------


def test_enter_with_a_description_makes_an_image_and_a_question_is_answered(page, tmp_path):
    new_chat(page)
    assert focused_testid(page) == "composer-input"  # ready to type
    page.keyboard.type("draw me a red apple on a table")
    page.keyboard.press("Enter")
    made = new_embed(page, [])
    assert page.locator(f"li.message.assistant [data-embed-id='{made}']").count() == 1
    finished(page, made)
    assert page.locator("li.message.user").last.inner_text().strip() == "draw me a red apple on a table"
    assert focused_testid(page) == "composer-input"  # and ready for the next one

    # A question with an image attached is answered honestly, never left hanging.
    path = tmp_path / "photo.png"
    path.write_bytes(png_bytes())
    page.set_input_files("[data-testid=attach-input]", str(path))
    page.wait_for_selector("[data-testid=attachments] [data-status=finished]")
    page.fill("[data-testid=composer-input]", "What is in this picture?")
    page.keyboard.press("Enter")
    page.wait_for_selector("li.message.assistant >> text=can't answer questions about images yet")
    assert page.locator("[data-testid=attachments] > *").count() == 0
    assert focused_testid(page) == "composer-input"
