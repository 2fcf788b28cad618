"""Ask about this, in Debian's Chromium against the full stack: draw on an image, ask, and the
answer arrives as the assistant's reply, in this tab and in a second one."""

from __future__ import annotations

import pytest

from tests.browser.helpers import embed_ids, finished, generate, ready, shot, signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-analysis")]


@pytest.fixture(scope="module")
def context(browser, stack):
    context = signed_in_context(browser, stack, "analyst")
    yield context
    context.close()


ANSWER = "[data-testid=image-embed-preview][data-status=finished] [data-testid=analysis-answer]"


def test_ask_about_a_circled_area_answers_in_the_chat_and_in_a_second_tab(page, context):
    source = generate(page, "Lighthouse on a cliff", "1:1")
    finished(page, source)
    other = context.new_page()
    other.goto(page.url)
    ready(other)
    finished(other, source)

    page.locator(f"[data-embed-id='{source}']").first.click()
    page.wait_for_function("document.querySelector('.fs-image').complete")
    page.click("[data-testid=draw-tool]")
    page.click("[data-shape=ellipse]")
    page.wait_for_function(
        "document.querySelector('.fs-overlay').width === document.querySelector('.fs-image').clientWidth"
    )
    box = page.locator(".fs-image").bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 30)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 100, steps=5)
    page.mouse.up()
    page.click("[data-testid=ask-about-this]")
    page.wait_for_selector(
        "[data-testid=attachments] [data-testid=image-embed-preview][data-status=finished]"
    )
    annotated = page.locator("[data-testid=attachments] [data-testid=image-embed-preview]").get_attribute(
        "data-embed-id"
    )

    page.fill("[data-testid=composer-input]", "What is inside the circle?")
    before = embed_ids(page)
    page.click("[data-testid=composer-send]")
    page.wait_for_selector(f"li.message.assistant {ANSWER}", timeout=30_000)
    answer = page.locator(f"li.message.assistant {ANSWER}").last
    text = answer.inner_text()
    assert "vision model" in text and "An ellipse" in text and "1024×1024" in text
    assert "labelled as made with AI" in text  # the lighthouse was generated
    question = page.locator("li.message.user").last
    assert "What is inside the circle?" in question.inner_text()
    assert question.locator(f"[data-embed-id='{annotated}']").count() == 1
    assert page.locator("[data-testid=attachments] > *").count() == 0
    analysis_id = next(i for i in embed_ids(page) if i not in before and i != annotated)
    content = page.request.get(f"/v1/embeds/{analysis_id}/content").json()
    assert content["type"] == "image_analysis" and content["source_embed_id"] == source
    (shape,) = content["region"]["shapes"]
    # Drawn at display size on a 1024 px image: the ellipse is in the original's pixels.
    scale = 1024 / box["width"]
    assert shape["type"] == "ellipse"
    assert abs(shape["x"] - 30 * scale) <= 2 and abs(shape["width"] - 90 * scale) <= 2
    shot(page, "20-ask-about-this", dark=True)

    # The second tab shows the question and the answer without a reload.
    other.wait_for_selector(f"li.message.assistant [data-embed-id='{analysis_id}'] {ANSWER.split(' ')[1]}")
    other.wait_for_function(
        "id => document.querySelector(`[data-embed-id='${id}'][data-status=finished]`)", arg=analysis_id
    )
    assert (
        other.locator(f"[data-embed-id='{analysis_id}'] [data-testid=analysis-answer]").inner_text() == text
    )
    other.close()

    # An analysis card is not an image: the viewer does not open on it.
    page.locator(f"[data-embed-id='{analysis_id}']").first.click()
    assert page.locator("[data-testid=fullscreen]").is_hidden()
