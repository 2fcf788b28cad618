"""What a new user does in the chat, in Debian's Chromium against the full stack: Enter makes an
image, a regenerate differs, the viewer and its tools work by keyboard, progress is honest, and
images and chats can be managed. One stack and one browser for the module."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser.helpers import (
    ARTIFACTS,
    embed_ids,
    finished,
    generate,
    new_embed,
    png_bytes,
    ready,
    shot,
    signed_in_context,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-workflow")]


@pytest.fixture(scope="module")
def context(browser, stack):
    context = signed_in_context(browser, stack, "newuser", width=1440, height=900)
    yield context
    context.close()


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

    # A question with an image attached is answered (offline: honestly), never left hanging.
    path = tmp_path / "photo.png"
    path.write_bytes(png_bytes())
    page.set_input_files("[data-testid=attach-input]", str(path))
    page.wait_for_selector("[data-testid=attachments] [data-status=finished]")
    page.fill("[data-testid=composer-input]", "What is in this picture?")
    page.keyboard.press("Enter")
    answer = "li.message.assistant [data-status=finished] [data-testid=analysis-answer]"
    page.wait_for_selector(answer, timeout=30_000)
    assert "vision model" in page.locator(answer).last.inner_text()
    assert page.locator("[data-testid=attachments] > *").count() == 0
    assert focused_testid(page) == "composer-input"


# --- 3, 4, 6: the viewer and its tools, by mouse and by keyboard ---------------------------------


def red_pixels(page) -> int:
    return page.evaluate(
        """() => {
            const c = document.querySelector('.fs-overlay');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 110 && d[i + 3] > 200) n++;
            return n;
        }"""
    )


def meta(page) -> str:
    return page.inner_text("[data-testid=fullscreen-meta]")


def test_viewer_keys_survive_a_click_and_every_tool_works_by_keyboard(page):
    new_chat(page)
    wide = generate(page, "Harbour at night", "16:9")
    finished(page, wide)
    square = generate(page, "Forest lake", "1:1")
    finished(page, square)

    # 3. A mouse click on the image keeps the viewer's keys alive.
    page.locator(f"[data-embed-id='{wide}']").first.click()
    viewer = page.locator("[data-testid=fullscreen]")
    viewer.wait_for(state="visible")
    page.wait_for_function(
        "document.querySelector('[data-testid=fullscreen-meta]')?.textContent.includes('1344')"
    )
    page.locator(".fs-image").click()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "document.querySelector('[data-testid=fullscreen-meta]').textContent.includes('1024×1024')"
    )
    page.locator(".fs-stage").click(position={"x": 5, "y": 5})
    page.keyboard.press("+")
    assert "scale(1.25)" in page.eval_on_selector(".fs-canvas", "el => el.style.transform")
    page.keyboard.press("0")
    page.keyboard.press("Escape")
    viewer.wait_for(state="hidden")

    # 4. The aspect lock holds on the bottom-right handle, dragged past the image's corner.
    page.locator(f"[data-embed-id='{wide}']").first.click()
    page.wait_for_function("document.querySelector('.fs-image').complete")
    page.click("[data-testid=crop-tool]")
    assert page.get_attribute("[data-testid=crop-tool]", "aria-pressed") == "true"
    page.click("[data-crop-ratio='1']")
    assert page.get_attribute("[data-crop-ratio='1']", "aria-pressed") == "true"
    handle = page.locator(".crop-box .se").bounding_box()
    page.mouse.move(handle["x"] + 7, handle["y"] + 7)
    page.mouse.down()
    page.mouse.move(handle["x"] + 900, handle["y"] + 90, steps=6)
    page.mouse.up()
    box = page.locator("[data-testid=crop-box]").bounding_box()
    assert abs(box["width"] - box["height"]) < 2, box
    before = embed_ids(page)
    page.click("[data-testid=crop-apply]")
    cropped = new_embed(page, before)
    original = page.request.get(f"/v1/embeds/{cropped}/content").json()["files"]["original"]
    assert original["width"] == original["height"], original
    assert "Crop (1:1)" in page.locator("li.message.user").last.inner_text()

    # 6. Keyboard alone: open, crop (move and resize), apply.
    page.locator(f"[data-embed-id='{square}']").first.focus()
    page.keyboard.press("Enter")
    viewer.wait_for(state="visible")
    page.wait_for_function("document.querySelector('.fs-image').complete")
    page.focus("[data-testid=crop-tool]")
    page.keyboard.press("Enter")
    page.focus("[data-testid=crop-box]")
    start = page.locator("[data-testid=crop-box]").bounding_box()
    for key in ("Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowUp", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    moved = page.locator("[data-testid=crop-box]").bounding_box()
    assert moved["width"] < start["width"] and moved["height"] < start["height"]
    assert moved["x"] > start["x"] and moved["y"] > start["y"]
    shot(page, "21-crop-keyboard")
    before = embed_ids(page)
    page.focus("[data-testid=crop-apply]")
    page.keyboard.press("Enter")
    new_embed(page, before)
    viewer.wait_for(state="hidden")

    # Draw by keyboard, and Ctrl+Z undoes.
    page.locator(f"[data-embed-id='{square}']").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.fs-image').complete")
    page.focus("[data-testid=draw-tool]")
    page.keyboard.press("Enter")
    page.focus("[data-testid=draw-area]")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    assert red_pixels(page) > 100
    shot(page, "22-draw-keyboard")
    page.keyboard.press("Control+z")
    assert red_pixels(page) == 0
    page.keyboard.press("Control+Shift+z")
    assert red_pixels(page) > 100
    page.keyboard.press("Escape")  # closes the tool
    assert page.locator("[data-testid=draw-area]").is_hidden()

    # Mark by keyboard and send the edit with Enter.
    page.focus("[data-testid=mark-tool]")
    page.keyboard.press("Enter")
    page.focus("[data-testid=draw-area]")
    page.keyboard.press("Enter")
    page.focus("[data-testid=edit-prompt]")
    page.keyboard.type("make it glow")
    before = embed_ids(page)
    page.keyboard.press("Enter")
    edited = new_embed(page, before)
    finished(page, edited)
    assert page.request.get(f"/v1/embeds/{edited}/content").json()["source"] == "edit"


# --- 5. progress while queued, and a card complete from its first paint ---------------------------

FIRST_PAINT = """
window.__firstPaint = {};
new MutationObserver(() => {
    for (const card of document.querySelectorAll('[data-testid=image-embed-preview]')) {
        const id = card.dataset.embedId;
        if (window.__firstPaint[id] || !card.querySelector('.gen-meta, img')) continue;
        window.__firstPaint[id] = {
            text: card.innerText,
            cancel: Boolean(card.querySelector('.cancel')),
            progress: card.querySelector('[data-testid=progress]')?.getAttribute('aria-valuenow'),
        };
    }
}).observe(document, {subtree: true, childList: true});
"""


def test_queued_cards_say_their_place_and_render_fully_at_once(page, context):
    new_chat(page)
    made = [generate(page, f"Queue test {n} [[sleep:5]]", "1:1") for n in range(3)]
    last = made[-1]
    # Two worker threads: the third waits, and says where it is in line, with an estimate.
    place = page.locator(f"[data-embed-id='{last}'] [data-testid=queue-place]")
    place.wait_for()
    assert "in line" in place.inner_text()
    task = page.request.get(
        f"/v1/tasks/{page.request.get(f'/v1/embeds/{last}/content').json()['task_id']}"
    ).json()
    if task["status"] == "queued":
        assert task["server_queue_position"] >= 1 and task["eta_seconds"] > 0
    eta = page.inner_text(f"[data-embed-id='{last}'] [data-testid=eta]")
    assert "finishing" not in eta

    # Another tab (or a reload): the card is whole from its first paint.
    other = context.new_page()
    other.add_init_script(FIRST_PAINT)
    other.goto(page.url)
    ready(other)
    other.wait_for_function("ids => ids.every(id => window.__firstPaint[id])", arg=made, timeout=10_000)
    painted = other.evaluate("window.__firstPaint")
    for embed_id, n in zip(made, range(3), strict=True):
        first = painted[embed_id]
        if "Queue test" not in first["text"] or not first["cancel"]:
            raise AssertionError(first)
        assert f"Queue test {n}" in first["text"]
    shot(other, "23-queued-second-tab", dark=True)
    for embed_id in made:
        finished(other, embed_id)
    other.close()


# --- 6. cards for screen readers, a chat that is a short walk by Tab ------------------------------

TAB_STOPS = """() => [...document.querySelectorAll('[data-testid=messages] *')].filter((n) =>
    n.tabIndex >= 0 && n.matches('button, a[href], input, select, textarea, [tabindex]')
    && !n.disabled && n.offsetParent !== null).length"""


def test_cards_are_named_and_the_chat_is_one_tab_stop(page):
    new_chat(page)
    made = [generate(page, f"Tab walk {n}", "1:1") for n in range(4)]
    for embed_id in made:
        finished(page, embed_id)
    for n, embed_id in enumerate(made):
        card = page.locator(f"li.message [data-embed-id='{embed_id}']")
        assert card.get_attribute("role") == "group"
        assert card.get_attribute("aria-label") == f"Tab walk {n}"
        assert card.get_by_role("button", name=f"Open image: Tab walk {n}").count() == 1
    page.wait_for_function(f"({TAB_STOPS})() <= 3")  # one image stop + the newest safety note
    # From the images, the message box is a few Tabs away; arrows move between images.
    page.locator(f"[data-embed-id='{made[-1]}'] [data-testid=open-image]").focus()
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.closest('[data-embed-id]').dataset.embedId") == made[2]
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=fullscreen]:not([hidden])")
    page.wait_for_function(
        "document.querySelector('[data-testid=fullscreen-info] strong').textContent === 'Tab walk 2'"
    )
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=fullscreen]", state="hidden")
    assert page.evaluate("document.activeElement.closest('[data-embed-id]').dataset.embedId") == made[2]
    for _ in range(4):
        page.keyboard.press("Tab")
        if focused_testid(page) == "composer-input":
            break
    assert focused_testid(page) == "composer-input"


# --- 2 and 7. regenerate differs; manage images and chats -----------------------------------------


def test_regenerate_delete_copy_edit_report_from_the_viewer_and_manage_chats(page, context):
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    new_chat(page)
    first = generate(page, "A red kite", "1:1")
    finished(page, first)

    # The safety note, once dismissed, stays dismissed; Report / Regenerate live in the viewer.
    page.click(f"[data-embed-id='{first}'] [data-testid=dismiss-safety-note]")
    page.reload()
    ready(page)
    finished(page, first)
    assert page.locator("[data-testid=safety-note]").count() == 0

    page.locator(f"[data-embed-id='{first}']").first.click()
    page.wait_for_selector("[data-testid=fullscreen]:not([hidden])")
    shot(page, "24-viewer-actions", dark=True)
    before = embed_ids(page)
    page.click("[data-testid=viewer-regenerate]")
    again = new_embed(page, before)
    finished(page, again)
    assert page.request.get(f"/v1/embeds/{again}/content").json()["prompt"] == "A red kite"
    assert original_pixels(page, again) != original_pixels(page, first)  # 2. a new image
    assert "Regenerate: A red kite" in page.locator("li.message.user").last.inner_text()

    # Copy prompt, and edit-and-retry: the prompt goes to the composer, ready to change.
    page.locator(f"[data-embed-id='{first}']").first.click()
    page.wait_for_selector("[data-testid=fullscreen]:not([hidden])")
    page.click("[data-testid=copy-prompt]")
    page.wait_for_selector("[data-testid=composer-note]:not([hidden])")
    assert page.inner_text("[data-testid=composer-note]") == "Prompt copied."
    assert page.evaluate("navigator.clipboard.readText()") == "A red kite"
    page.click("[data-testid=edit-prompt-retry]")
    page.wait_for_selector("[data-testid=fullscreen]", state="hidden")
    assert page.input_value("[data-testid=composer-input]") == "A red kite"
    assert focused_testid(page) == "composer-input"
    page.fill("[data-testid=composer-input]", "")

    # Report from the viewer (no regenerate): a thank-you, nothing new.
    page.locator(f"[data-embed-id='{first}']").first.click()
    page.click("[data-testid=viewer-report]")
    page.wait_for_selector("[data-testid=report-dialog][open]")
    page.uncheck("[data-testid=report-regenerate-again]")
    page.click("[data-testid=report-submit]")
    page.wait_for_function(
        "document.querySelector('[data-testid=composer-note]').textContent.includes('report')"
    )

    # Delete an image: asked first, then gone from the chat and the API.
    page.locator(f"[data-embed-id='{again}']").first.click()
    page.click("[data-testid=delete-image]")
    page.wait_for_selector("[data-testid=ask-dialog][open]")
    shot(page, "25-delete-image-confirm", dark=True)
    page.click("[data-testid=ask-ok]")
    page.wait_for_selector(f"[data-embed-id='{again}']", state="detached")
    assert page.request.get(f"/v1/embeds/{again}/content").status == 404
    finished(page, first)  # the rest of the chat is still there
    assert page.locator(f"[data-embed-id='{again}']").count() == 0

    # Rename and delete the chat.
    chat_id = page.url.rsplit("/c/", 1)[1]
    page.click("[data-testid=rename-chat]")
    page.fill("[data-testid=ask-input]", "Kites")
    page.click("[data-testid=ask-ok]")
    page.wait_for_function("document.querySelector('[data-testid=chat-title]').textContent === 'Kites'")
    page.wait_for_selector(f"[data-testid=chat-list] a[data-chat-id='{chat_id}'] >> text=Kites")
    page.click("[data-testid=delete-chat]")
    page.wait_for_selector("[data-testid=ask-dialog][open]")
    page.click("[data-testid=ask-ok]")
    page.wait_for_selector(f"[data-testid=chat-list] a[data-chat-id='{chat_id}']", state="detached")
    assert chat_id not in [c["chat_id"] for c in page.request.get("/v1/chats").json()]
    assert chat_id not in page.url


# --- accessibility, measured: axe-core on every main state, light and dark -----------------------


def axe_problems(page, state: str) -> list[str]:
    """Serious and critical axe-core violations of the page as it is, in light and dark; and a
    screenshot of each (test-artifacts/ui/a11y-<state>[-dark].png)."""
    from axe_playwright_python.sync_playwright import Axe

    problems = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(50)
        suffix = "" if scheme == "light" else "-dark"
        page.screenshot(path=str(ARTIFACTS / f"a11y-{state}{suffix}.png"))
        for violation in Axe().run(page).response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [node["target"] for node in violation["nodes"]][:4]
                problems.append(f"{state}/{scheme}: {violation['id']} ({violation['impact']}) {targets}")
    page.emulate_media(color_scheme="light")
    return problems


def test_every_main_state_passes_axe_in_light_and_dark(browser, stack, page):
    problems: list[str] = []
    guest = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900}, bypass_csp=True)
    visitor = guest.new_page()
    for path, state in (("/signup/", "signup"), ("/login/", "login")):
        visitor.goto(path)
        problems += axe_problems(visitor, state)
    guest.close()

    new_chat(page)
    problems += axe_problems(page, "empty-chat")
    waiting = generate(page, "A kite over the bay [[sleep:4]]", "16:9")
    page.wait_for_selector(f"[data-embed-id='{waiting}'] [data-testid=progress]")
    problems += axe_problems(page, "card-in-progress")
    finished(page, waiting, timeout=40_000)
    problems += axe_problems(page, "chat")
    page.locator(f"[data-embed-id='{waiting}']").first.click()
    page.wait_for_function("document.querySelector('.fs-image').complete")
    problems += axe_problems(page, "viewer")
    for tool in ("crop", "draw", "mark"):
        page.click(f"[data-testid={tool}-tool]")
        problems += axe_problems(page, f"tool-{tool}")
    page.click("[data-testid=mark-tool]")
    page.click("[data-testid=viewer-report]")
    page.wait_for_selector("[data-testid=report-dialog][open]")
    problems += axe_problems(page, "report-dialog")
    page.click("[data-testid=report-cancel]")
    page.click("[data-testid=delete-image]")
    page.wait_for_selector("[data-testid=ask-dialog][open]")
    problems += axe_problems(page, "delete-dialog")
    page.click("[data-testid=ask-cancel]")
    page.keyboard.press("Escape")
    page.goto("/settings/")
    problems += axe_problems(page, "settings")
    page.goto("/no-such-page")
    problems += axe_problems(page, "404")
    assert not problems, "\n".join(problems)


# --- 8. polish -----------------------------------------------------------------------------------


def test_polish_empty_state_counter_names_titles_thumbnails_404_and_phone_composer(
    browser, stack, page, tmp_path
):
    new_chat(page)
    empty = page.locator("[data-testid=empty-state]")
    assert empty.locator("[data-testid=example-prompt]").count() >= 3
    page.wait_for_selector("[data-testid=model-guide] li")
    assert "Offline" in empty.locator("[data-testid=model-guide]").inner_text()
    assert "Prompt saved in the image file" in page.inner_text("[data-testid=privacy-note]")
    assert page.eval_on_selector(".topnav a", "a => getComputedStyle(a).textDecorationLine") == "none"

    # Too long a description: a counter, and a sentence instead of the server's raw words.
    page.fill("[data-testid=composer-input]", "x" * 4100)
    counter = page.locator("[data-testid=composer-counter]")
    assert counter.is_visible() and counter.inner_text() == "4100 / 4000"
    page.keyboard.press("Enter")
    assert "at most 4000" in page.inner_text("[data-testid=composer-error]")
    assert page.locator("li.message").count() == 0

    # An example prompt starts a chat; the sidebar shows the chat with its image.
    page.locator("[data-testid=example-prompt]").first.click()
    prompt = page.input_value("[data-testid=composer-input]")
    assert prompt and focused_testid(page) == "composer-input"
    long_prompt = f"{prompt} by the sea with a long and careful description of every detail of the scene"
    page.fill("[data-testid=composer-input]", long_prompt)
    page.keyboard.press("Enter")
    made = new_embed(page, [])
    finished(page, made)
    page.wait_for_selector("[data-testid=chat-list] a.active img.chat-thumb")

    # The viewer's title is the whole prompt, cut by an ellipsis; downloads are named after it.
    page.locator(f"[data-embed-id='{made}']").first.click()
    page.wait_for_selector("[data-testid=fullscreen]:not([hidden])")
    title = page.locator("[data-testid=fullscreen-info] strong")
    assert title.inner_text() == long_prompt
    assert (
        page.eval_on_selector(
            "[data-testid=fullscreen-info] strong", "el => getComputedStyle(el).textOverflow"
        )
        == "ellipsis"
    )
    download = page.get_attribute("[data-testid=download-full]", "download")
    assert download.startswith("an-orange-tabby-cat") and download.endswith(".webp") and len(download) <= 70
    page.keyboard.press("Escape")
    path = tmp_path / "Holiday Photo.png"
    path.write_bytes(png_bytes())
    page.set_input_files("[data-testid=attach-input]", str(path))
    page.wait_for_selector("[data-testid=attachments] [data-status=finished] img.loaded")
    page.click("[data-testid=attachments] [data-testid=open-image]")
    page.wait_for_selector("[data-testid=fullscreen]:not([hidden])")
    page.wait_for_function(
        "document.querySelector('[data-testid=download-original]').download === 'holiday-photo.png'"
    )
    page.keyboard.press("Escape")
    page.click("[data-testid=attachments] .remove")

    # A bad chat link says so (a styled 404), it never silently opens a new chat.
    import uuid

    response = page.goto(f"/c/{uuid.uuid4()}")
    assert response.status == 404 and page.locator("[data-testid=not-found]").is_visible()
    shot(page, "26-not-found", dark=True)

    # On a phone the composer is two rows: the text, then one strip of skills.
    phone = browser.new_context(
        base_url=stack.url,
        viewport={"width": 390, "height": 844},
        storage_state=page.context.storage_state(),
        is_mobile=True,
        has_touch=True,
        bypass_csp=True,
    )
    small = phone.new_page()
    small.goto("/")
    ready(small)
    tops = small.eval_on_selector_all(
        ".skill-row > *:not([hidden])", "nodes => nodes.map(n => n.getBoundingClientRect().top)"
    )
    assert max(tops) - min(tops) < 12, tops  # one line of skills, not two
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    shot(small, "27-phone-composer", dark=True)
    # The viewer's Regenerate, Report, Copy, Edit and Delete fold behind ⋯ on a phone.
    small.locator("li.message [data-testid=open-image]").last.click()
    small.wait_for_selector("[data-testid=fullscreen]:not([hidden])")
    assert not small.locator("[data-testid=viewer-regenerate]").is_visible()
    small.click("[data-testid=viewer-more]")
    assert small.get_attribute("[data-testid=viewer-more]", "aria-expanded") == "true"
    assert small.locator("[data-testid=viewer-regenerate]").is_visible()
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    shot(small, "28-phone-viewer-more", dark=True)
    phone.close()
