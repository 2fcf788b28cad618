"""Versions in the chat UI (issue 15), in Debian's Chromium against the full stack: the card's
"N versions" stepper (buttons and keys, live as a new version arrives), the viewer's version
strip, Compare (the before/after slider by mouse and keyboard, side by side, a masked edit's
outline) and deleting one version or a whole lineage."""

from __future__ import annotations

import pytest

from tests.browser.helpers import embed_ids, finished, generate, new_embed, ready, shot, signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-versions")]


@pytest.fixture(scope="module")
def context(browser, stack):
    context = signed_in_context(browser, stack, "versioner")
    yield context
    context.close()


def _card(page, embed_id: str):
    return page.locator(f"li.message [data-embed-id='{embed_id}']").first


def _open(page, embed_id: str) -> None:
    _card(page, embed_id).locator("[data-testid=open-image]").click()
    page.wait_for_selector("[data-testid=fullscreen]:not([hidden])")
    page.wait_for_function("document.querySelector('.fs-image').complete")


def _shown_in_viewer(page, embed_id: str) -> None:
    page.wait_for_function(
        "id => document.querySelector('[data-testid=fullscreen]').dataset.currentEmbed === id"
        " && document.querySelector('.fs-image').src.includes(id)",
        arg=embed_id,
    )


def _regenerate(page, embed_id: str) -> str:
    _open(page, embed_id)
    before = embed_ids(page)
    page.click("[data-testid=viewer-regenerate]")
    made = new_embed(page, before)
    finished(page, made)
    return made


def _crop(page, embed_id: str, ratio: str = "1") -> str:
    _open(page, embed_id)
    page.click("[data-testid=crop-tool]")
    page.click(f"[data-crop-ratio='{ratio}']")
    before = embed_ids(page)
    page.click("[data-testid=crop-apply]")
    made = new_embed(page, before)
    finished(page, made)
    return made


def _count(page, embed_id: str, text: str) -> None:
    page.wait_for_function(
        "([id, text]) => document.querySelector(`li.message [data-embed-id='${id}']"
        " [data-testid=version-count]`)?.textContent === text",
        arg=[embed_id, text],
    )


def _slider_value(page) -> int:
    return int(page.get_attribute("[data-testid=compare-slider]", "aria-valuenow"))


def test_a_card_steps_through_its_versions_and_counts_a_new_one_live(page, context):
    first = generate(page, "A kite over the dunes", "1:1")
    finished(page, first)
    assert _card(page, first).locator("[data-testid=version-stepper]").count() == 0  # one version
    other = context.new_page()
    other.goto(page.url)
    ready(other)
    finished(other, first)

    second = _regenerate(page, first)
    # The first card learns of the new version without a reload, here and in the other tab.
    _count(page, first, "2 versions")
    _count(other, first, "2 versions")
    stepper = _card(page, first).locator("[data-testid=version-stepper]")
    assert stepper.get_attribute("role") == "group"
    # The chat's images stay one Tab stop: a stepper is reachable with its card's image only.
    page.wait_for_function(
        """() => {
            const cards = [...document.querySelectorAll('li.message [data-testid=image-embed-preview]')];
            const stops = cards.filter(c => c.querySelector('[data-testid=open-image]').tabIndex === 0);
            return stops.length === 1 && cards.filter(c => c.querySelector('.versions')).length === 2
                && cards.every(c => [...c.querySelectorAll('.versions button')].every(
                    b => b.tabIndex === c.querySelector('[data-testid=open-image]').tabIndex));
        }"""
    )
    assert stepper.locator("[data-testid=version-position]").inner_text() == "1/2"
    _count(page, second, "2 versions")
    assert _card(page, second).locator("[data-testid=version-position]").inner_text() == "2/2"

    # The → button shows the next version in the same card; its image is the other embed's.
    stepper.locator("[data-testid=version-next]").click()
    card = _card(page, first)
    page.wait_for_function(
        "([id, shown]) => { const c = document.querySelector(`li.message [data-embed-id='${id}']`);"
        " return c.dataset.shownId === shown && c.querySelector('img').src.includes(shown); }",
        arg=[first, second],
    )
    assert card.locator("[data-testid=version-position]").inner_text() == "2/2"
    shot(page, "versions-01-stepper", dark=True)
    # Focus stays on the stepper: ← steps back with the keyboard.
    page.wait_for_function("document.activeElement?.dataset.testid === 'version-next'")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "id => document.querySelector(`li.message [data-embed-id='${id}'] img`).src.includes(id)"
        " && document.querySelector(`li.message [data-embed-id='${id}'] [data-testid=version-position]`)"
        ".textContent === '1/2'",
        arg=first,
    )
    # Opening the card opens the version it shows.
    card.locator("[data-testid=version-next]").click()
    page.wait_for_function(
        "id => document.querySelector(`li.message [data-embed-id='${id}']`).dataset.shownId", arg=first
    )
    card.locator("[data-testid=open-image]").click()
    _shown_in_viewer(page, second)
    page.keyboard.press("Escape")

    # Regenerate the regenerated one: every card of the lineage counts three.
    third = _regenerate(page, second)
    for embed_id in (first, second, third):
        _count(page, embed_id, "3 versions")
    _count(other, first, "3 versions")
    versions = page.request.get(f"/v1/embeds/{first}/versions").json()["versions"]
    assert [(v["embed_id"], v["version_kind"], v["parent_id"]) for v in versions] == [
        (first, "generated", None),
        (second, "regenerated", first),
        (third, "regenerated", second),
    ]
    other.close()


def test_the_viewer_strip_and_compare_with_the_parent_by_mouse_and_keyboard(page):
    first = generate(page, "A red lighthouse on a cliff", "16:9")
    finished(page, first)
    crop = _crop(page, first)
    _open(page, crop)
    strip = page.locator("[data-testid=version-strip]")
    strip.wait_for(state="visible")
    thumbs = strip.locator("[data-testid=version-thumb]")
    assert thumbs.count() == 2
    assert thumbs.nth(1).get_attribute("aria-current") == "true"
    assert thumbs.nth(0).get_attribute("aria-label") == "Version 1 of 2: Generated"
    assert thumbs.nth(1).get_attribute("aria-label") == "Version 2 of 2: Cropped"
    assert f"/v1/embeds/{first}/file?format=preview" in thumbs.nth(0).locator("img").get_attribute("src")

    # A click on a thumbnail shows that version; the first has no parent, so nothing to compare.
    thumbs.nth(0).click()
    _shown_in_viewer(page, first)
    page.wait_for_function(
        "document.querySelector('[data-testid=version-thumb]').getAttribute('aria-current') === 'true'"
    )
    assert not page.locator("[data-testid=compare-tool]").is_visible()
    thumbs.nth(1).click()
    _shown_in_viewer(page, crop)
    page.locator("[data-testid=compare-tool]").wait_for(state="visible")
    # The keyboard on the strip: ←/→ show the version beside, and focus stays on the strip.
    page.wait_for_function("document.activeElement?.dataset.testid === 'version-thumb'")
    page.keyboard.press("ArrowLeft")
    _shown_in_viewer(page, first)
    page.wait_for_function(
        "id => document.activeElement?.dataset.version === id"
        " && document.activeElement.getAttribute('aria-current') === 'true'",
        arg=first,
    )
    page.keyboard.press("ArrowRight")
    _shown_in_viewer(page, crop)
    page.locator("[data-testid=compare-tool]").wait_for(state="visible")

    # Compare: the parent's full image under a slider at 50%.
    page.click("[data-testid=compare-tool]")
    slider = page.locator("[data-testid=compare-slider]")
    slider.wait_for(state="visible")
    assert slider.get_attribute("role") == "slider"
    assert slider.get_attribute("aria-label").startswith("Before and after")
    assert _slider_value(page) == 50 and slider.get_attribute("aria-valuetext") == "50% before, 50% after"
    before = page.locator("[data-testid=compare-before]")
    assert f"/v1/embeds/{first}/file?format=full" in before.get_attribute("src")
    assert "compared with version 1" in page.inner_text("[data-testid=compare-what]")
    page.wait_for_function("document.activeElement?.dataset.testid === 'compare-slider'")
    shot(page, "versions-02-compare-slider", dark=True)

    # The keyboard: ←/→ move it by 5, Shift by 20, Home and End to the ends; it never leaves the image.
    page.keyboard.press("ArrowRight")
    assert _slider_value(page) == 55
    page.keyboard.press("Shift+ArrowLeft")
    assert _slider_value(page) == 35
    page.keyboard.press("End")
    assert _slider_value(page) == 100
    page.keyboard.press("ArrowRight")
    assert _slider_value(page) == 100
    page.keyboard.press("Home")
    assert _slider_value(page) == 0
    assert slider.get_attribute("aria-valuetext") == "0% before, 100% after"
    _shown_in_viewer(page, crop)  # the arrows moved the slider, not to another image

    # The mouse: a drag across the image puts the slider where the pointer is.
    box = page.locator(".fs-image").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    assert abs(_slider_value(page) - 20) <= 1
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    page.mouse.up()
    assert abs(_slider_value(page) - 70) <= 1
    clip = before.evaluate("el => el.style.clipPath")
    assert clip == f"inset(0px {100 - _slider_value(page)}% 0px 0px)"
    handle = slider.bounding_box()
    assert abs(handle["x"] + handle["width"] / 2 - (box["x"] + box["width"] * 0.7)) <= box["width"] * 0.015

    # Side by side on a wide screen: both images, no slider.
    page.click("[data-testid=compare-side-mode]")
    page.locator("[data-testid=compare-side-before]").wait_for(state="visible")
    assert not slider.is_visible()
    side_before = page.locator("[data-testid=compare-side-before] img").bounding_box()
    after = page.locator(".fs-image").bounding_box()
    assert side_before["x"] + side_before["width"] <= after["x"]  # before on the left, after on the right
    shot(page, "versions-03-compare-side")
    page.click("[data-testid=compare-slider-mode]")
    slider.wait_for(state="visible")
    page.keyboard.press("Escape")  # the tool closes; the viewer stays
    slider.wait_for(state="hidden")
    assert page.locator("[data-testid=fullscreen]").is_visible()
    page.keyboard.press("Escape")


def test_compare_outlines_the_mask_of_a_masked_edit(page):
    first = generate(page, "A blue door in a white wall", "1:1")
    finished(page, first)
    _open(page, first)
    page.click("[data-testid=mark-tool]")
    page.click("[data-mark=box]")
    page.wait_for_function(
        "document.querySelector('.fs-overlay').width === document.querySelector('.fs-image').clientWidth"
    )
    box = page.locator(".fs-image").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.75, steps=4)
    page.mouse.up()
    page.fill("[data-testid=edit-prompt]", "make it red")
    before = embed_ids(page)
    page.click("[data-testid=edit-send]")
    edited = new_embed(page, before)
    finished(page, edited)
    _count(page, first, "2 versions")

    _open(page, edited)
    page.locator("[data-testid=compare-tool]").wait_for(state="visible")
    page.click("[data-testid=compare-tool]")
    mask = page.locator("[data-testid=compare-mask]")
    mask.wait_for(state="visible")
    assert mask.get_attribute("aria-pressed") == "false"
    mask.click()
    assert mask.get_attribute("aria-pressed") == "true"
    page.wait_for_function(
        "id => document.querySelector('[data-testid=mask-outline]').dataset.drawn === id", arg=edited
    )
    # The outline is drawn where the box was marked (the middle half), and only at its edge.
    traced = page.evaluate(
        """() => {
            const c = document.querySelector('[data-testid=mask-outline]');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const at = (fx, fy) =>
                d[(Math.round(fy * (c.height - 1)) * c.width + Math.round(fx * (c.width - 1))) * 4 + 3];
            let edge = 0;
            for (let x = 0; x < c.width; x++) edge = Math.max(edge, at(x / c.width, 0.5));
            return { centre: at(0.5, 0.5), corner: at(0.05, 0.05), edge,
                     width: c.width, shown: document.querySelector('.fs-image').clientWidth };
        }"""
    )
    assert traced["width"] == traced["shown"]
    assert traced["centre"] == 0 and traced["corner"] == 0 and traced["edge"] == 255, traced
    assert page.locator("[data-testid=mask-outline]").is_visible()
    shot(page, "versions-04-compare-mask")
    mask.click()
    page.locator("[data-testid=mask-outline]").wait_for(state="hidden")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")

    # A crop is no masked edit: no mask toggle.
    crop = _crop(page, first)
    _open(page, crop)
    page.locator("[data-testid=compare-tool]").wait_for(state="visible")
    page.click("[data-testid=compare-tool]")
    page.locator("[data-testid=compare-slider]").wait_for(state="visible")
    assert not mask.is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")


def test_deleting_one_version_keeps_the_others_and_the_root_offers_the_whole_lineage(page):
    first = generate(page, "A paper boat on a pond", "4:3")
    finished(page, first)
    middle = _crop(page, first, "1")
    last = _crop(page, middle, "free")
    _count(page, first, "3 versions")

    # A version that is not the first: only it is deleted, the others stay (re-linked).
    _open(page, middle)
    page.click("[data-testid=delete-image]")
    page.wait_for_selector("[data-testid=ask-dialog][open]")
    assert page.inner_text("#ask-title") == "Delete this version?"
    assert "The other 2 versions stay." in page.inner_text("[data-testid=ask-text]")
    assert not page.locator("[data-testid=ask-alt]").is_visible()
    page.click("[data-testid=ask-ok]")
    page.wait_for_selector(f"li.message [data-embed-id='{middle}']", state="detached")
    assert page.request.get(f"/v1/embeds/{middle}/content").status == 404
    _count(page, first, "2 versions")
    _count(page, last, "2 versions")
    versions = page.request.get(f"/v1/embeds/{last}/versions").json()["versions"]
    assert [(v["embed_id"], v["parent_id"]) for v in versions] == [(first, None), (last, first)]

    # The first version: the dialog offers all of them, or only this one.
    _open(page, first)
    page.click("[data-testid=delete-image]")
    page.wait_for_selector("[data-testid=ask-dialog][open]")
    assert page.inner_text("#ask-title") == "Delete all 2 versions?"
    assert page.inner_text("[data-testid=ask-ok]") == "Delete all 2 versions"
    assert page.inner_text("[data-testid=ask-alt]") == "Only this one"
    shot(page, "versions-05-delete-lineage", dark=True)
    page.click("[data-testid=ask-cancel]")
    assert page.request.get(f"/v1/embeds/{first}/content").status == 200  # cancel deletes nothing
    page.click("[data-testid=delete-image]")
    page.wait_for_selector("[data-testid=ask-dialog][open]")
    page.click("[data-testid=ask-ok]")
    page.wait_for_selector(f"li.message [data-embed-id='{first}']", state="detached")
    page.wait_for_selector(f"li.message [data-embed-id='{last}']", state="detached")
    assert page.request.get(f"/v1/embeds/{first}/content").status == 404
    assert page.request.get(f"/v1/embeds/{last}/content").status == 404


def test_deleting_only_the_first_version_makes_the_next_one_first(page):
    first = generate(page, "A snail on a leaf", "1:1")
    finished(page, first)
    crop = _crop(page, first)
    _open(page, first)
    page.click("[data-testid=delete-image]")
    page.wait_for_selector("[data-testid=ask-dialog][open]")
    page.click("[data-testid=ask-alt]")
    page.wait_for_selector(f"li.message [data-embed-id='{first}']", state="detached")
    finished(page, crop)
    assert _card(page, crop).locator("[data-testid=version-stepper]").count() == 0  # alone now
    body = page.request.get(f"/v1/embeds/{crop}/versions").json()
    assert body["root_id"] == crop and [v["parent_id"] for v in body["versions"]] == [None]
