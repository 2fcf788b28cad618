"""The chat UI in Debian's Chromium (Playwright), against the full stack as separate processes:
uvicorn (HTTP + WebSocket via channels-redis), a Dramatiq worker, PostgreSQL, Redis, S3 (moto)
and the Vault-transit server. Screenshots of the main states go to test-artifacts/ui/."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser.helpers import (
    PASSWORD,
    embed_ids,
    finished,
    generate,
    in_view,
    message_ids,
    new_embed,
    png_bytes,
    ready,
    shot,
    signed_in_context,
    text_fits,
    unique,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-chat-ui")]


@pytest.fixture(scope="module")
def context(browser, stack):
    """A browser context with a signed-up, logged-in user."""
    context = signed_in_context(browser, stack, "painter")
    yield context
    context.close()


def test_sign_up_log_out_and_log_in(browser, stack):
    newcomer = unique("newcomer")
    context = browser.new_context(base_url=stack.url, bypass_csp=True)
    page = context.new_page()
    page.goto("/")
    assert "/login/" in page.url  # the app needs an account
    page.goto("/signup/")
    page.fill("input[name=username]", newcomer)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=composer]")
    page.wait_for_selector("[data-testid=chat-list] .chat-list-empty")  # not a blank sidebar
    shot(page, "01-empty-chat")
    page.click("[data-testid=logout]")
    page.wait_for_url(f"{stack.url}/login/")
    page.fill("input[name=username]", newcomer)
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    page.fill("input[name=username]", newcomer)
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
    # The request is stored as typed (no "/image" the user never wrote); the card is the answer.
    request = page.locator("li.message.user").last
    assert request.inner_text().strip() == "A lighthouse at dawn [[sleep:2.5]]"
    assert page.locator(f"li.message.assistant [data-embed-id='{embed_id}']").count() == 1
    image = finished(page, embed_id)
    badge = page.locator(f"[data-embed-id='{embed_id}'] [data-testid=ai-badge]").first
    assert badge.is_visible()
    shot(page, "03-finished", dark=True)
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
    line = page.inner_text("[data-testid=provenance]")
    assert "procedural-1" in line and "local test certificate" in line and "Trusted" not in line
    shot(page, "07-fullscreen", dark=True)
    # Reverse search is not configured here: its button is not offered.
    assert page.locator("[data-testid=find-similar]").count() == 0
    # Zoomed in, the image stays under the previous/next buttons.
    for _ in range(4):
        page.keyboard.press("+")
    assert page.evaluate(
        """() => {
            const prev = document.querySelector('[data-testid=fullscreen-prev]');
            const r = prev.getBoundingClientRect();
            return prev.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2));
        }"""
    )
    page.keyboard.press("0")
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
    # The result is the assistant's answer to a "Crop" request, and the chat scrolls to it.
    assert page.locator(f"li.message.assistant [data-embed-id='{cropped}']").count() == 1
    in_view(page, cropped)
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
    assert b"compositeWithTrainedAlgorithmicMedia" in annotated  # still labelled as AI-made
    attached_card = page.locator("[data-testid=attachments] [data-testid=image-embed-preview]")
    assert attached_card.locator("[data-testid=ai-badge]").count() == 1
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
    assert page.locator(f"li.message.assistant [data-embed-id='{edited}']").count() == 1
    assert "Edit: make it glow" in page.locator("li.message.user").last.inner_text()
    in_view(page, edited)
    # A square image fills its card: no blank strip beside it.
    card = page.locator(f"[data-embed-id='{second}']").first
    picture = card.locator("img")
    assert abs(card.bounding_box()["width"] - picture.bounding_box()["width"]) < 1.5
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
    shot(page, "11-edited", dark=True)


def test_report_and_regenerate(page):
    embed_id = generate(page, "A red kite")
    finished(page, embed_id)
    before = embed_ids(page)
    page.locator(f"[data-embed-id='{embed_id}'] [data-testid=report-regenerate]").first.click()
    dialog = page.locator("[data-testid=report-dialog]")
    dialog.wait_for(state="visible")
    shot(page, "12-report", dark=True)
    page.check("[data-testid=report-dialog] input[value=wrong_content]")
    page.click("[data-testid=report-submit]")
    again = new_embed(page, before)
    finished(page, again)
    assert page.request.get(f"/v1/embeds/{again}/content").json()["prompt"] == "A red kite"
    assert page.locator(f"li.message.assistant [data-embed-id='{again}']").count() == 1
    assert "not what I asked for" in page.locator("li.message.user").last.inner_text()
    in_view(page, again)

    # Report only: nothing new in the chat, a thank-you note.
    before = embed_ids(page)
    page.locator(f"[data-embed-id='{again}'] [data-testid=report-regenerate]").first.click()
    dialog.wait_for(state="visible")
    page.check("[data-testid=report-dialog] input[value=artifacts]")
    page.uncheck("[data-testid=report-regenerate-again]")
    page.click("[data-testid=report-submit]")
    page.wait_for_selector("[data-testid=composer-note]:not([hidden])")
    assert "report" in page.inner_text("[data-testid=composer-note]").lower()
    assert embed_ids(page) == before

    # Cancelling sends nothing.
    page.locator(f"[data-embed-id='{again}'] [data-testid=report-regenerate]").first.click()
    dialog.wait_for(state="visible")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert embed_ids(page) == before


def test_a_lost_final_event_still_converges_over_rest(page):
    """The socket stays up but the final embed_update never arrives (as when channels-redis
    drops a message): the card still turns into the image, from a REST re-check."""
    page.evaluate(
        """() => {
            const socket = window.__omi.socket;
            const deliver = socket.onEvent;
            window.__dropped = 0;
            socket.onEvent = (message) => {
                const final = ['completed', 'failed'].includes(message.payload?.status);
                if (message.type === 'embed_update' && final) {
                    window.__dropped += 1;
                    return;
                }
                deliver(message);
            };
            socket.onReconnect = () => {};  // and no catch-up on reconnect: the re-check alone
        }"""
    )
    embed_id = generate(page, "A kite nobody hears about [[sleep:1]]", "9:16")
    card = page.locator(f"[data-embed-id='{embed_id}']").first
    page.wait_for_selector(f"[data-embed-id='{embed_id}'] .placeholder.generating")
    waiting_height = card.bounding_box()["height"]
    finished(page, embed_id, timeout=25_000)
    assert page.evaluate("window.__dropped") >= 1
    # A portrait placeholder already had the image's size: nothing jumps when it arrives.
    frame = page.locator(f"[data-embed-id='{embed_id}'] .frame").first
    assert abs(frame.bounding_box()["height"] - waiting_height) <= 3
    card_box, image_box = card.bounding_box(), frame.locator("img").bounding_box()
    assert abs(card_box["width"] - image_box["width"]) < 1.5  # and no blank strip beside it


def test_second_tab_sees_new_images_and_messages_without_reload(page, context):
    embed_id = generate(page, "Seen from the other tab")
    finished(page, embed_id)
    other = context.new_page()
    other.goto(page.url)
    ready(other)
    finished(other, embed_id)

    # A generation in tab 1 appears in tab 2, request and all, and finishes there.
    made = generate(page, "Made in the first tab [[sleep:1]]")
    finished(other, made)
    other.wait_for_function(
        "[...document.querySelectorAll('li.message.user')]"
        ".some(n => n.textContent.includes('Made in the first tab'))"
    )

    # A crop makes no socket event; the other tab hears of it from this one.
    page.locator(f"[data-embed-id='{made}']").first.click()
    page.click("[data-testid=crop-tool]")
    before = embed_ids(page)
    page.click("[data-testid=crop-apply]")
    cropped = new_embed(page, before)
    finished(page, cropped)
    finished(other, cropped)

    # Both tabs show the same messages in the same order.
    count = len(message_ids(page))
    other.wait_for_function(
        "n => document.querySelectorAll('li.message[data-message-id]').length === n", arg=count
    )
    assert message_ids(other) == message_ids(page)
    assert other.locator("li.message.pending").count() == 0
    other.close()


def test_failed_generate_leaves_no_empty_chat(page):
    chats_before = [c["chat_id"] for c in page.request.get("/v1/chats").json()]
    page.wait_for_function("document.querySelectorAll('[data-testid=model-select] option').length > 0")
    page.click("[data-testid=new-chat]")
    page.wait_for_selector("li.empty")
    # A blank prompt is refused at once.
    page.click("[data-testid=generate-button]")
    page.wait_for_selector("[data-testid=composer-error]:not([hidden])")
    # A model whose provider is not configured (shown disabled) is refused by the server.
    has_unconfigured = page.eval_on_selector(
        "[data-testid=model-select]",
        """select => {
            const option = [...select.options].find((o) => o.disabled);
            if (!option) return false;
            option.disabled = false;
            select.value = option.value;
            return true;
        }""",
    )
    if has_unconfigured:
        # The picker gives the server's reason, not a generic "not configured".
        models = page.request.get("/v1/apps/images/models").json()["models"]
        reasons = {m["label"]: m["unavailable_reason"] for m in models if not m["available"]}
        texts = page.eval_on_selector_all(
            "[data-testid=model-select] option", "options => options.map((o) => o.textContent)"
        )
        for label, reason in reasons.items():
            assert any(t.startswith(label) and reason in t for t in texts), (label, reason, texts)
        page.fill("[data-testid=composer-input]", "A kite nobody can make")
        page.click("[data-testid=generate-button]")
        page.wait_for_function(
            "document.querySelector('[data-testid=composer-error]').textContent.includes('not available')"
        )
    # Refusals straight over the socket: a blank prompt, a bad aspect ratio.
    codes = page.evaluate(
        """async () => {
            const codes = [];
            for (const body of [{prompt: ''}, {prompt: 'x', aspect_ratio: '7:3'}]) {
                try { await window.__omi.socket.request({type: 'generate', ...body}); codes.push('ok'); }
                catch (error) { codes.push(error.code); }
            }
            return codes;
        }"""
    )
    assert codes == ["invalid_value", "invalid_value"]
    page.wait_for_selector("li.empty")  # the request bubble went away again
    assert page.locator("li.message").count() == 0
    assert "/c/" not in page.url
    assert [c["chat_id"] for c in page.request.get("/v1/chats").json()] == chats_before
    shot(page, "13-failed-generate", dark=True)
    # After a reload we land in the last real chat, not in an empty one.
    page.goto("/")
    ready(page)
    if chats_before:
        assert page.url.endswith(f"/c/{chats_before[0]}")
    else:
        assert "/c/" not in page.url
    assert page.locator("[data-testid=chat-list] a").count() == len(chats_before)


def test_image_command_with_attachments_says_what_happens_to_them(page, tmp_path):
    path = tmp_path / "reference.png"
    path.write_bytes(png_bytes((320, 240), (30, 120, 200)))
    page.set_input_files("[data-testid=attach-input]", str(path))
    page.wait_for_selector(
        "[data-testid=attachments] [data-testid=image-embed-preview][data-status=finished]"
    )
    attached = page.locator("[data-testid=attachments] [data-testid=image-embed-preview]").get_attribute(
        "data-embed-id"
    )
    before = embed_ids(page)
    page.fill("[data-testid=composer-input]", "/image a heron in this style")
    page.click("[data-testid=composer-send]")
    made = new_embed(page, [*before, attached])
    finished(page, made)
    request = page.locator("li.message.user").last
    assert request.inner_text().strip() == "a heron in this style"
    if request.locator(f"[data-embed-id='{attached}']").count():
        # The server took the attachment with the request: the composer is empty again.
        assert page.locator("[data-testid=attachments] > *").count() == 0
    else:
        # It did not: the user is told, and the image waits in the composer.
        page.wait_for_selector("[data-testid=composer-note]:not([hidden])")
        assert "not used" in page.inner_text("[data-testid=composer-note]")
        assert page.locator("[data-testid=attachments] [data-testid=image-embed-preview]").count() == 1
        page.click("[data-testid=attachments] .remove")


def test_phone_chat_switcher_viewer_and_layout(browser, context, stack):
    phone = browser.new_context(
        base_url=stack.url,
        viewport={"width": 390, "height": 844},
        storage_state=context.storage_state(),
        is_mobile=True,
        has_touch=True,
        bypass_csp=True,
    )
    page = phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")
    ready(page)
    for prompt, aspect in (("Phone harbour", "16:9"), ("Phone lake", "1:1")):
        finished(page, generate(page, prompt, aspect))
    page.wait_for_url("**/c/*")
    first_chat = page.url
    sidebar = page.locator("[data-testid=sidebar]")
    assert not sidebar.is_visible() and page.locator("[data-testid=chat-menu]").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The composer's hint fits, "Log out" stays on one line.
    assert text_fits(page, "[data-testid=composer-input]", "el.placeholder")
    assert page.locator("[data-testid=logout]").bounding_box()["height"] < 30
    assert text_fits(page, "[data-testid=model-select]", "el.selectedOptions[0].textContent")
    shot(page, "14-phone-chat", dark=True)

    # The menu opens the chat list as a drawer, with "+ New chat".
    page.click("[data-testid=chat-menu]")
    sidebar.wait_for(state="visible")
    count = page.locator("[data-testid=chat-list] a").count()
    assert count >= 1
    page.wait_for_function(  # slid in all the way
        "getComputedStyle(document.querySelector('[data-testid=sidebar]')).transform === 'none'"
    )
    shot(page, "15-phone-drawer", dark=True)
    page.click("[data-testid=new-chat]")
    sidebar.wait_for(state="hidden")
    page.wait_for_selector("li.empty")
    long_prompt = "A kite over the bay " + "x" * 80
    made = generate(page, long_prompt, "1:1")
    finished(page, made)
    assert page.url != first_chat
    page.click("[data-testid=chat-menu]")
    sidebar.wait_for(state="visible")
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=chat-list] a').length === n", arg=count + 1
    )
    # Long titles end in an ellipsis; the list never scrolls sideways.
    assert page.eval_on_selector("[data-testid=sidebar]", "el => el.scrollWidth <= el.clientWidth")
    assert page.eval_on_selector(
        "[data-testid=chat-list] a.active .chat-name", "el => el.scrollWidth > el.clientWidth"
    )
    page.locator(f"[data-testid=chat-list] a[href='{first_chat.split(stack.url)[1]}']").click()
    sidebar.wait_for(state="hidden")
    page.wait_for_url(first_chat)
    ready(page)
    assert page.locator("li.message").count() > 0
    # Escape and the backdrop close the drawer too.
    page.click("[data-testid=chat-menu]")
    sidebar.wait_for(state="visible")
    page.keyboard.press("Escape")
    sidebar.wait_for(state="hidden")

    # The viewer: two rows of toolbar at most, previous/next shown, swiping moves between images.
    cards = page.locator("[data-testid=image-embed-preview][data-status=finished]:not(.is-results)")
    assert cards.count() >= 2
    cards.last.click()
    viewer = page.locator("[data-testid=fullscreen]")
    viewer.wait_for(state="visible")
    page.wait_for_function("document.querySelector('.fs-image').complete")
    assert page.locator(".fs-toolbar").bounding_box()["height"] <= 100
    width = page.viewport_size["width"]
    for action in ("download-full", "download-original", "crop-tool", "draw-tool", "mark-tool"):
        box = page.locator(f"[data-testid={action}]").bounding_box()  # none scrolled out of sight
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (action, box)
    assert page.locator("[data-testid=fullscreen-next]").is_visible()
    assert page.locator("[data-testid=fullscreen-prev]").is_visible()
    position = page.inner_text("[data-testid=fullscreen-position]")
    shot(page, "16-phone-viewer", dark=True)
    stage = page.locator("[data-testid=fullscreen-stage]").bounding_box()
    y = stage["y"] + stage["height"] / 2
    page.mouse.move(stage["x"] + stage["width"] * 0.8, y)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.2, y, steps=6)
    page.mouse.up()
    page.wait_for_function(
        "p => document.querySelector('[data-testid=fullscreen-position]').textContent !== p", arg=position
    )
    page.click("[data-testid=fullscreen-close]")
    viewer.wait_for(state="hidden")

    # Settings fit the phone, Revoke included.
    page.goto("/settings/")
    page.fill("input[name=name]", "phone key with a fairly long name to wrap")
    page.click("[data-testid=create-api-key]")
    page.wait_for_selector("[data-testid=new-api-key]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    revoke = page.locator("[data-testid=revoke-key]").first.bounding_box()
    assert revoke["x"] >= 0 and revoke["x"] + revoke["width"] <= 390
    shot(page, "17-phone-settings", dark=True)
    page.close()
    phone.close()

    guest = browser.new_context(
        base_url=stack.url, viewport={"width": 390, "height": 844}, is_mobile=True, bypass_csp=True
    )
    login = guest.new_page()
    login.goto("/login/")
    card = login.locator(".auth-card").bounding_box()
    assert card["x"] >= 8 and card["x"] + card["width"] <= 390 - 8
    shot(login, "18-phone-login", dark=True)
    guest.close()
    assert not errors, errors


def test_settings_creates_shows_once_and_revokes_api_keys(page):
    page.goto("/settings/")
    name = page.locator("input[name=name]")
    assert name.input_value() == "" and name.get_attribute("placeholder")
    page.fill("input[name=name]", "laptop script")
    page.click("[data-testid=create-api-key]")
    key = page.locator("[data-testid=new-api-key]").inner_text()
    assert key.startswith("omi_")
    assert page.url.endswith("/settings/")
    assert page.request.get("/v1/apps/images/models", headers={"Authorization": f"Bearer {key}"}).ok
    # POST/redirect/GET: a refresh neither shows the key again nor makes a second one.
    page.reload()
    assert page.locator("[data-testid=new-api-key]").count() == 0
    rows = page.locator("[data-testid=api-key-row]", has_text="laptop script")
    assert rows.count() == 1
    shot(page, "19-settings", dark=True)

    # Revoking asks first; cancelling keeps the key.
    rows.first.locator("[data-testid=revoke-key]").click()
    dialog = page.locator("[data-testid=confirm-dialog]")
    dialog.wait_for(state="visible")
    assert "laptop script" in dialog.inner_text()
    shot(page, "20-settings-revoke-confirm", dark=True)
    page.click("[data-testid=confirm-cancel]")
    dialog.wait_for(state="hidden")
    assert page.request.get("/v1/apps/images/models", headers={"Authorization": f"Bearer {key}"}).ok
    rows.first.locator("[data-testid=revoke-key]").click()
    dialog.wait_for(state="visible")
    page.click("[data-testid=confirm-ok]")
    page.wait_for_selector("[data-testid=flash] li")
    assert "revoked" in page.inner_text("[data-testid=flash]")
    assert rows.count() == 0
    fresh = page.context.browser.new_context(base_url=page.url.split("/settings")[0])
    assert (
        fresh.request.get("/v1/apps/images/models", headers={"Authorization": f"Bearer {key}"}).status == 401
    )
    fresh.close()

    # Saving the privacy choice says so.
    page.click("label.check")
    page.click("[data-testid=save-preferences]")
    page.wait_for_selector("[data-testid=preferences-saved]")
    assert "Saved" in page.inner_text("[data-testid=preferences-saved]")
    # The delete-account password box looks like the other inputs.
    style = "el => [getComputedStyle(el).borderRadius, getComputedStyle(el).paddingLeft]"
    assert page.eval_on_selector("input[name=password]", style) == page.eval_on_selector(
        "input[name=name]", style
    )


def test_four_variants_are_a_row_of_live_tiles_that_all_finish(page):
    page.wait_for_function("document.querySelectorAll('[data-testid=model-select] option').length > 0")
    variants = page.get_by_label("Variants (1–4)")
    assert variants.input_value() == "1"
    variants.select_option("4")
    page.click("[data-testid=new-chat]")
    page.fill("[data-testid=composer-input]", "Four kites over a beach [[sleep:1.5]]")
    page.select_option("[data-testid=aspect-ratio]", "1:1")
    page.click("[data-testid=generate-button]")
    tiles = page.locator("li.message.assistant [data-testid=variant-tiles]").last
    tiles.wait_for()
    assert tiles.get_attribute("aria-label") == "4 variants"
    cards = tiles.locator("[data-testid=image-embed-preview]")
    assert cards.count() == 4
    ids = [cards.nth(i).get_attribute("data-embed-id") for i in range(4)]
    assert len(set(ids)) == 4
    # Each tile has its own progress while it works.
    page.wait_for_selector(f"[data-embed-id='{ids[0]}'] [data-testid=progress]")
    shot(page, "20-variants-generating")
    for embed_id in ids:
        finished(page, embed_id)
    # Side by side on a wide screen: one row.
    tops = {round(cards.nth(i).bounding_box()["y"]) for i in range(4)}
    assert len(tops) == 1, tops
    shot(page, "21-variants-finished", dark=True)
    # Wrapped on a phone: more than one row, none wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(
        "document.querySelector('[data-testid=variant-tiles]').getBoundingClientRect().width < 390"
    )
    boxes = [cards.nth(i).bounding_box() for i in range(4)]
    assert len({round(b["y"]) for b in boxes}) > 1
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= 390 for b in boxes)
    page.set_viewport_size({"width": 1280, "height": 860})
    variants.select_option("1")


def test_an_attachment_marked_as_reference_is_drawn_on_and_named_in_the_credentials(page, tmp_path):
    path = tmp_path / "palette.png"
    path.write_bytes(png_bytes(color=(240, 20, 160)))
    page.click("[data-testid=new-chat]")
    page.set_input_files("[data-testid=attach-input]", str(path))
    page.wait_for_selector(
        "[data-testid=attachments] [data-testid=image-embed-preview][data-status=finished]"
    )
    reference_id = page.get_attribute(
        "[data-testid=attachments] [data-testid=image-embed-preview]", "data-embed-id"
    )
    page.get_by_label("Use palette.png as a reference for the next image").check()
    before = embed_ids(page)
    page.fill("[data-testid=composer-input]", "A lighthouse at dusk")
    page.click("[data-testid=generate-button]")
    page.wait_for_selector("li.message.assistant [data-testid=image-embed-preview]")
    made = next(
        i
        for i in page.eval_on_selector_all(
            "li.message.assistant [data-testid=image-embed-preview]",
            "nodes => nodes.map(n => n.dataset.embedId)",
        )
        if i not in before
    )
    finished(page, made)
    assert page.locator("[data-testid=attachments] > *").count() == 0
    provenance = page.request.get(f"/v1/embeds/{made}/provenance").json()["renditions"]
    for report in provenance.values():
        assert [i["title"] for i in report["ingredients"]] == ["Reference image 1"]
        assert report["digital_source_type"].endswith("/compositeWithTrainedAlgorithmicMedia")
    assert reference_id != made
