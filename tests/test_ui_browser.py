"""The chat UI in Debian's Chromium (Playwright), against the full stack as separate processes:
uvicorn (HTTP + WebSocket via channels-redis), a Dramatiq worker, PostgreSQL, Redis, S3 (moto)
and the Vault-transit server. Screenshots of the main states go to test-artifacts/ui/."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.live_stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "ui"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-Good-passw0rd!"


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
    """A browser context with a signed-up, logged-in user."""
    context = browser.new_context(base_url=stack.url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto("/signup/")
    page.fill("input[name=username]", "painter")
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
    page.wait_for_selector("[data-testid=connection][data-state=online]", state="attached")
    page.wait_for_selector("[data-testid=messages][data-loaded=true]", state="attached")
    yield page
    page.close()
    assert not errors, errors


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def embed_ids(page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid=image-embed-preview]", "nodes => nodes.map(n => n.dataset.embedId)"
    )


def new_embed(page, before: list[str]) -> str:
    """The id of the first image embed that appeared in the chat after ``before`` was taken."""
    page.wait_for_function(
        "before => [...document.querySelectorAll('[data-testid=image-embed-preview]')]"
        ".some(n => !before.includes(n.dataset.embedId))",
        arg=before,
    )
    return next(i for i in embed_ids(page) if i not in before)


def generate(page, prompt: str, aspect: str = "16:9") -> str:
    before = embed_ids(page)
    page.fill("[data-testid=composer-input]", prompt)
    page.select_option("[data-testid=aspect-ratio]", aspect)
    page.click("[data-testid=generate-button]")
    return new_embed(page, before)


def finished(page, embed_id: str, timeout: float = 30_000):
    selector = (
        f"[data-testid=image-embed-preview][data-embed-id='{embed_id}'][data-status=finished] img.loaded"
    )
    page.wait_for_selector(selector, timeout=timeout)
    return page.locator(selector).first


def png_bytes(size=(640, 480), color=(220, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def test_sign_up_log_out_and_log_in(browser, stack):
    context = browser.new_context(base_url=stack.url)
    page = context.new_page()
    page.goto("/")
    assert "/login/" in page.url  # the app needs an account
    page.goto("/signup/")
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=composer]")
    shot(page, "01-empty-chat")
    page.click("[data-testid=logout]")
    page.wait_for_url(f"{stack.url}/login/")
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=composer]")
    context.close()


def test_generate_placeholder_progress_preview_and_fading_ai_icon(page, context):
    other_tab = context.new_page()
    other_tab.goto(page.url)
    other_tab.wait_for_selector("[data-testid=connection][data-state=online]", state="attached")
    embed_id = generate(page, "A lighthouse at dawn [[sleep:2.5]]")
    card = page.locator(f"[data-embed-id='{embed_id}']").first
    assert card.get_attribute("data-status") == "processing"
    page.wait_for_selector(f"[data-embed-id='{embed_id}'] [data-testid=progress]")
    assert "A lighthouse at dawn" in card.inner_text()
    page.wait_for_function(
        f"Number(document.querySelector(\"[data-embed-id='{embed_id}'] [data-testid=progress]\")"
        ".getAttribute('aria-valuenow')) > 5"
    )
    shot(page, "02-generating")
    image = finished(page, embed_id)
    badge = page.locator(f"[data-embed-id='{embed_id}'] [data-testid=ai-badge]").first
    assert badge.is_visible()
    shot(page, "03-finished")
    page.wait_for_function(
        "getComputedStyle(document.querySelector("
        f"\"[data-embed-id='{embed_id}'] [data-testid=ai-badge]\")).opacity"
        " === '0'",
        timeout=10_000,
    )
    assert image.get_attribute("alt").startswith("A lighthouse at dawn")
    box = image.bounding_box()
    assert abs(box["width"] / box["height"] - 1344 / 768) < 0.05
    # The other tab of the same user followed along, live.
    other_tab.reload()
    finished(other_tab, embed_id)
    other_tab.close()


def test_live_update_reaches_a_second_tab_without_reload(page, context):
    other_tab = context.new_page()
    other_tab.goto(page.url)
    other_tab.wait_for_selector("[data-testid=connection][data-state=online]", state="attached")
    embed_id = generate(page, "Two tabs [[sleep:2]]")
    other_tab.goto(page.url)  # the placeholder is in the chat; from here only the socket updates it
    other_tab.wait_for_selector(f"[data-embed-id='{embed_id}'][data-status=processing]")
    finished(other_tab, embed_id)
    other_tab.close()


def test_dropped_socket_catches_up_over_rest(page):
    embed_id = generate(page, "Offline moment [[sleep:1.5]]")
    # Drop the socket and hold off the reconnect past the job's end: its events are lost.
    page.evaluate("window.__omi.socket.attempt = 3; window.__omi.socket.ws.close()")
    page.wait_for_selector("[data-testid=connection][data-state=offline]", state="attached")
    shot(page, "04-reconnecting")
    page.wait_for_selector("[data-testid=connection][data-state=online]", state="attached", timeout=20_000)
    finished(page, embed_id, timeout=20_000)


def test_generation_error_shows_reason_and_retry(page):
    embed_id = generate(page, "Blocked [[fail:content_blocked]]")
    page.wait_for_selector(f"[data-embed-id='{embed_id}'][data-status=error] [data-testid=embed-error]")
    assert page.locator(f"[data-embed-id='{embed_id}'] [data-testid=retry]").is_visible()
    shot(page, "05-error")


def test_upload_by_picker_and_by_paste_then_send(page, tmp_path):
    path = tmp_path / "holiday.png"
    path.write_bytes(png_bytes())
    page.set_input_files("[data-testid=attach-input]", str(path))
    page.wait_for_selector(
        "[data-testid=attachments] [data-testid=image-embed-preview][data-status=finished]"
    )
    page.focus("[data-testid=composer-input]")
    page.evaluate(
        """async () => {
            const canvas = Object.assign(document.createElement('canvas'), {width: 320, height: 200});
            canvas.getContext('2d').fillRect(0, 0, 320, 200);
            const blob = await new Promise((r) => canvas.toBlob(r, 'image/png'));
            const data = new DataTransfer();
            data.items.add(new File([blob], 'pasted.png', {type: 'image/png'}));
            const input = document.querySelector('[data-testid=composer-input]');
            const event = new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true});
            input.dispatchEvent(event);
        }"""
    )
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=attachments] [data-status=finished]').length === 2"
    )
    shot(page, "06-attachments")
    page.fill("[data-testid=composer-input]", "What is in these?")
    page.click("[data-testid=composer-send]")
    page.wait_for_selector("li.message.user .message-embeds [data-status=finished] >> nth=1")
    assert page.locator("[data-testid=attachments] > *").count() == 0


def test_fullscreen_info_keys_crop_draw_and_mark(page, context):
    first = generate(page, "Harbour at night", "16:9")
    finished(page, first)
    second = generate(page, "Forest lake", "1:1")
    finished(page, second)

    page.locator(f"[data-embed-id='{first}']").first.click()
    viewer = page.locator("[data-testid=fullscreen]")
    viewer.wait_for(state="visible")
    info = page.locator("[data-testid=fullscreen-info]")
    page.wait_for_function(
        "document.querySelector('[data-testid=fullscreen-meta]')?.textContent.includes('1344×768')"
    )
    assert "PNG" in info.inner_text() and ("KB" in info.inner_text() or "MB" in info.inner_text())
    try:
        page.wait_for_function(
            "document.querySelector('[data-testid=provenance]').textContent.includes('Made with AI')",
            timeout=15_000,
        )
    except Exception:
        shot(page, "failure-provenance")
        raise AssertionError(f"provenance line: {page.inner_text('[data-testid=provenance]')!r}") from None
    shot(page, "07-fullscreen")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "document.querySelector('[data-testid=fullscreen-meta]').textContent.includes('1024×1024')"
    )
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "document.querySelector('[data-testid=fullscreen-meta]').textContent.includes('1344×768')"
    )
    page.keyboard.press("Escape")
    viewer.wait_for(state="hidden")

    # Crop: a new embed, cut from the original's pixels.
    page.locator(f"[data-embed-id='{first}']").first.click()
    page.click("[data-testid=crop-tool]")
    page.click("[data-crop-ratio='1']")
    shot(page, "08-crop")
    before = embed_ids(page)
    page.click("[data-testid=crop-apply]")
    viewer.wait_for(state="hidden")
    cropped = new_embed(page, before)
    content = page.request.get(f"/v1/embeds/{cropped}/content").json()
    original = content["files"]["original"]
    assert original["width"] == original["height"] and 400 < original["width"] <= 768
    assert content["derived_from"] == first

    # Draw + "Ask about this": the annotated image lands in the composer as an upload.
    page.locator(f"[data-embed-id='{second}']").first.click()
    page.wait_for_function("document.querySelector('.fs-image').complete")
    page.click("[data-testid=draw-tool]")
    page.wait_for_function(
        "document.querySelector('.fs-overlay').width === document.querySelector('.fs-image').clientWidth"
    )
    overlay = page.locator(".fs-image").bounding_box()
    page.mouse.move(overlay["x"] + 40, overlay["y"] + 40)
    page.mouse.down()
    page.mouse.move(overlay["x"] + 200, overlay["y"] + 160, steps=5)
    page.mouse.up()
    shot(page, "09-draw")
    page.click("[data-testid=ask-about-this]")
    page.wait_for_selector(
        "[data-testid=attachments] [data-testid=image-embed-preview][data-status=finished]"
    )
    attached = page.locator("[data-testid=attachments] [data-testid=image-embed-preview]").get_attribute(
        "data-embed-id"
    )
    annotated = page.request.get(f"/v1/embeds/{attached}/file?format=original").body()
    drawn = Image.open(io.BytesIO(annotated)).convert("RGB")
    scale = drawn.width / overlay["width"]
    red = drawn.getpixel((int(40 * scale), int(100 * scale)))  # on the rectangle's left edge
    assert red[0] > 200 and red[1] < 120, (red, overlay, drawn.size)
    page.click("[data-testid=attachments] .remove")

    # Mark to edit: a mask at the original's size -> an edit task -> a new embed in the chat.
    page.locator(f"[data-embed-id='{second}']").first.click()
    page.wait_for_function("document.querySelector('.fs-image').complete")
    page.click("[data-testid=mark-tool]")
    page.click("[data-mark=box]")
    page.wait_for_function(
        "document.querySelector('.fs-overlay').width === document.querySelector('.fs-image').clientWidth"
    )
    overlay = page.locator(".fs-image").bounding_box()
    page.mouse.move(overlay["x"] + 20, overlay["y"] + 20)
    page.mouse.down()
    page.mouse.move(overlay["x"] + overlay["width"] / 2, overlay["y"] + overlay["height"] / 2, steps=4)
    page.mouse.up()
    page.fill("[data-testid=edit-prompt]", "make it glow")
    shot(page, "10-mark")
    before = embed_ids(page)
    page.click("[data-testid=edit-send]")
    edited = new_embed(page, before)
    finished(page, edited)
    content = page.request.get(f"/v1/embeds/{edited}/content").json()
    assert content["source"] == "edit" and content["derived_from"] == second
    before = Image.open(
        io.BytesIO(page.request.get(f"/v1/embeds/{second}/file?format=original").body())
    ).convert("RGB")
    after = Image.open(
        io.BytesIO(page.request.get(f"/v1/embeds/{edited}/file?format=original").body())
    ).convert("RGB")
    assert before.getpixel((900, 900)) == after.getpixel((900, 900))  # outside the mask: untouched
    assert before.getpixel((200, 200)) != after.getpixel((200, 200))  # inside: edited
    shot(page, "11-edited")


def test_report_and_regenerate(page):
    embed_id = generate(page, "A red kite")
    finished(page, embed_id)
    before = embed_ids(page)
    page.locator(f"[data-embed-id='{embed_id}'] [data-testid=report-regenerate]").first.click()
    again = new_embed(page, before)
    finished(page, again)
    assert page.request.get(f"/v1/embeds/{again}/content").json()["prompt"] == "A red kite"


def test_settings_creates_shows_once_and_revokes_api_keys(page):
    page.goto("/settings/")
    page.fill("input[name=name]", "laptop script")
    page.click("[data-testid=create-api-key]")
    key = page.locator("[data-testid=new-api-key]").inner_text()
    assert key.startswith("omi_")
    assert page.request.get("/v1/apps/images/models", headers={"Authorization": f"Bearer {key}"}).ok
    page.goto("/settings/")
    assert page.locator("[data-testid=new-api-key]").count() == 0
    shot(page, "12-settings")
    rows = page.locator("[data-testid=api-key-row]")
    assert "laptop script" in rows.first.inner_text()
    rows.first.locator("button").click()
    page.wait_for_load_state()
    time.sleep(0.2)
    from playwright.sync_api import APIRequestContext  # noqa: F401

    fresh = page.context.browser.new_context(base_url=page.url.split("/settings")[0])
    assert (
        fresh.request.get("/v1/apps/images/models", headers={"Authorization": f"Bearer {key}"}).status == 401
    )
    fresh.close()
