"""The gallery (/gallery) in Debian's Chromium against the full stack, with 200 images: the first
page paints at once and only the previews near the viewport are fetched, scrolling loads the next
pages, the arrow keys move between tiles and Enter opens the chat's own viewer, Select mode
selects (click, shift-click) and deletes after a confirmation, the kind filter, and no CSP
violation throughout. First paint and scroll times are measured by bench/gallery.py, not here."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser.helpers import ARTIFACTS, make_link, submit_sign_up, unique
from tests.live_stack import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-gallery")]

COUNT = 200
TILE = "[data-testid=gallery-tile]"
WATCH_CSP = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation', e => window.__violations.push("
    "`${e.violatedDirective} ${e.blockedURI}`));"
)


@pytest.fixture(scope="module")
def gallery(browser, stack):
    """A user with 200 images, signed in, on /gallery (the page keeps the app's strict CSP)."""
    context = browser.new_context(base_url=stack.url, viewport={"width": 1280, "height": 860})
    context.add_init_script(WATCH_CSP)
    collector = unique("collector")
    page = context.new_page()
    submit_sign_up(page, stack.url, collector)
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.gallery_seed", collector, str(COUNT)],
        cwd=ROOT,
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert seeded.stdout.strip() == str(COUNT)
    yield page
    assert page.evaluate("window.__violations") == []
    context.close()


def _loaded(page) -> int:
    return page.locator(TILE).count()


def _until(page, script: str, timeout: float = 15.0) -> None:
    """Poll a page expression until it is true (wait_for_function's string predicates are
    evaluated in a way the page's strict CSP forbids; page.evaluate is not)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {script}")
        page.wait_for_timeout(50)


def _previews_requested(page) -> set[str]:
    return set(
        page.evaluate(
            "performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => n.includes('format=preview')).map(n => n.split('/')[5])"
        )
    )


def test_the_chat_links_to_the_gallery_and_the_first_page_paints(gallery):
    page = gallery
    page.goto("/")
    page.click("[data-testid=nav-gallery]")
    page.wait_for_url("**/gallery")
    page.locator(TILE).first.wait_for()
    assert page.locator("[data-testid=nav-gallery]").get_attribute("aria-current") == "page"
    assert page.locator("[data-testid=gallery-storage]").inner_text().startswith(f"{COUNT} images · ")
    first = _loaded(page)
    assert 0 < first < COUNT  # a page, not all 200
    # Newest first: the last image seeded is the first tile.
    assert page.locator(TILE).first.get_attribute("aria-label").startswith(f"photo-{COUNT - 1}.png")
    # Lazy: the previews on screen are fetched, the last tiles of the page (below the fold) not.
    _until(page, "document.querySelector('[data-testid=gallery-tile] img').naturalWidth > 0")
    page.wait_for_load_state("networkidle")
    ids = page.eval_on_selector_all(TILE, "tiles => tiles.map(t => t.dataset.embedId)")
    requested = _previews_requested(page)
    assert ids[0] in requested and ids[-1] not in requested
    assert requested <= set(ids)
    assert page.locator(f"{TILE} img").first.get_attribute("loading") == "lazy"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gallery.png"))


def test_scrolling_loads_every_page(gallery):
    page = gallery
    page.goto("/gallery")
    page.locator(TILE).first.wait_for()
    first = _loaded(page)
    for _ in range(20):
        if _loaded(page) == COUNT:
            break
        page.mouse.wheel(0, 20_000)
        page.wait_for_timeout(200)
    assert first < _loaded(page) == COUNT
    page.locator("[data-testid=gallery-end]").filter(has_text=f"All {COUNT} shown.").wait_for()
    ids = page.eval_on_selector_all(TILE, "tiles => tiles.map(t => t.dataset.embedId)")
    assert len(set(ids)) == COUNT  # no image twice across the pages


def test_arrow_keys_move_between_tiles_and_enter_opens_the_viewer(gallery):
    page = gallery
    page.goto("/gallery")
    page.locator(TILE).first.wait_for()
    tiles = page.locator(TILE)
    page.locator(TILE).first.focus()
    assert tiles.first.get_attribute("tabindex") == "0"
    assert page.eval_on_selector_all(TILE, "ts => ts.filter(t => t.tabIndex === 0).length") == 1
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    focused = page.evaluate("document.activeElement.dataset.embedId")
    assert focused == tiles.nth(2).get_attribute("data-embed-id")
    columns = page.evaluate(
        "(() => { const ts = [...document.querySelectorAll('[data-testid=gallery-tile]')];"
        " const top = ts[0].getBoundingClientRect().top;"
        " return ts.findIndex(t => t.getBoundingClientRect().top > top + 1); })()"
    )
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.embedId") == tiles.nth(2 + columns).get_attribute(
        "data-embed-id"
    )
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    viewer = page.locator("[data-testid=fullscreen]")
    viewer.wait_for(state="visible")
    _until(page, f"document.querySelector('[data-testid=fullscreen]').dataset.currentEmbed === '{focused}'")
    _until(page, "document.querySelector('.fs-image').naturalWidth > 0")
    assert page.locator("[data-testid=fullscreen-meta]").inner_text().startswith("PNG · 48×36")
    page.keyboard.press("ArrowRight")  # the viewer's own keys: the next image of the gallery
    _until(page, f"document.querySelector('[data-testid=fullscreen]').dataset.currentEmbed !== '{focused}'")
    assert page.locator("[data-action=regenerate]").is_hidden()  # a chat's action, not here
    page.keyboard.press("Escape")
    viewer.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.dataset.embedId") == focused  # focus returns


def test_select_several_and_delete_them_after_confirming(gallery):
    page = gallery
    page.goto("/gallery")
    page.locator(TILE).first.wait_for()
    tiles = page.locator(TILE)
    doomed = [tiles.nth(i).get_attribute("data-embed-id") for i in range(1, 4)]
    page.click("[data-testid=select-mode]")
    tiles.nth(1).click()
    tiles.nth(3).click(modifiers=["Shift"])  # a range: tiles 1 to 3
    assert page.locator("[data-testid=selection-count]").inner_text() == "3 selected"
    assert (
        page.eval_on_selector_all(f"{TILE}[aria-pressed=true]", "ts => ts.map(t => t.dataset.embedId)")
        == doomed
    )
    page.click("[data-testid=delete-selected]")
    dialog = page.locator("[data-testid=ask-dialog]")
    dialog.wait_for(state="visible")
    assert "Delete 3 images?" in dialog.inner_text()
    page.click("[data-testid=ask-cancel]")  # cancelled: nothing happens
    assert _loaded(page) >= 4 and page.locator(f"{TILE}[data-embed-id='{doomed[0]}']").count() == 1
    page.click("[data-testid=delete-selected]")
    page.click("[data-testid=ask-ok]")
    page.locator("[data-testid=gallery-note]").filter(has_text="3 images deleted.").wait_for()
    for embed_id in doomed:
        assert page.locator(f"{TILE}[data-embed-id='{embed_id}']").count() == 0
    assert page.locator("[data-testid=gallery-storage]").inner_text().startswith(f"{COUNT - 3} images")
    page.reload()
    page.locator(TILE).first.wait_for()
    listed = page.eval_on_selector_all(TILE, "ts => ts.map(t => t.dataset.embedId)")
    assert not set(doomed) & set(listed)


def test_the_kind_filter_shows_only_edits(gallery):
    page = gallery
    page.goto("/gallery")
    page.locator(TILE).first.wait_for()
    page.select_option("[data-testid=filter-kind]", "edited")
    page.wait_for_url("**/gallery?kind=edited")
    page.locator("[data-testid=gallery-end]").filter(has_text="shown.").wait_for()
    kinds = page.eval_on_selector_all(TILE, "ts => ts.map(t => t.dataset.kind)")
    assert kinds and set(kinds) == {"edited"}
    assert len(kinds) == COUNT // 20  # every twentieth seeded image is a crop
    page.reload()  # the filter is in the address: a reload keeps it
    page.locator(TILE).first.wait_for()
    assert page.locator("[data-testid=filter-kind]").input_value() == "edited"


def test_a_crop_in_the_viewer_comes_first_in_the_gallery(gallery):
    page = gallery
    page.goto("/gallery")
    page.locator(TILE).first.wait_for()
    source = page.locator(TILE).first.get_attribute("data-embed-id")
    page.locator(TILE).first.click()
    _until(page, f"document.querySelector('[data-testid=fullscreen]').dataset.currentEmbed === '{source}'")
    _until(page, "document.querySelector('.fs-image').naturalWidth > 0")
    page.click("[data-testid=crop-tool]")
    page.locator("[data-testid=crop-box]").wait_for()
    page.click("[data-testid=crop-apply]")
    page.locator("[data-testid=gallery-note]").filter(has_text="Cropped").wait_for(timeout=30_000)
    # The grid is loaded again from the first page: the crop is the newest image.
    _until(page, f"(document.querySelector('{TILE}')?.dataset.embedId || '{source}') !== '{source}'")
    assert page.locator(TILE).first.get_attribute("data-kind") == "edited"


def test_share_works_from_the_gallerys_viewer(gallery):
    page = gallery
    page.goto("/gallery")
    page.locator(TILE).first.wait_for()
    page.locator(TILE).first.click()
    page.locator("[data-testid=fullscreen]").wait_for(state="visible")
    link = make_link(page)
    assert "/s/" in link and "#" in link
    page.keyboard.press("Escape")


def test_the_gallery_passes_axe_in_light_and_dark(gallery):
    """Serious and critical axe-core violations, on the grid and in Select mode."""
    from axe_playwright_python.sync_playwright import Axe

    page = gallery
    page.goto("/gallery")
    page.locator(TILE).first.wait_for()
    problems = []
    for state in ("grid", "selecting"):
        if state == "selecting":
            page.click("[data-testid=select-mode]")
            page.locator(TILE).first.click()
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.wait_for_timeout(50)
            page.screenshot(
                path=str(ARTIFACTS / f"a11y-gallery-{state}{'' if scheme == 'light' else '-dark'}.png")
            )
            for violation in Axe().run(page).response["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"]][:4]
                    problems.append(f"{state}/{scheme}: {violation['id']} ({violation['impact']}) {targets}")
    page.emulate_media(color_scheme="light")
    assert problems == []


def _photo(path) -> str:
    from PIL import Image

    Image.new("RGB", (64, 40), (30, 160, 90)).save(path, "PNG")
    return str(path)


def test_a_private_image_is_decrypted_here_and_named_in_the_zip(gallery, tmp_path):
    """A private upload from the chat appears first, decrypted by the browser (its name from its
    encrypted meta); the chat filter finds it; a ZIP of it and a vault image holds the vault
    original and names the private one in NOT-INCLUDED.txt."""
    import io
    import zipfile

    page = gallery
    page.goto("/")
    page.wait_for_selector("html[data-master-key=open]", state="attached", timeout=30_000)
    page.wait_for_selector("[data-testid=connection][data-state=online]", state="attached")
    page.check("[data-testid=private-upload]")
    page.set_input_files("[data-testid=attach-input]", _photo(tmp_path / "secret-garden.png"))
    chip = page.locator("[data-testid=attachments] [data-testid=image-embed-preview][data-status=finished]")
    chip.locator("img[data-private=open]").wait_for(timeout=30_000)
    private_id = chip.get_attribute("data-embed-id")
    page.click("[data-testid=composer-send]")
    page.locator(f"[data-testid=messages] [data-embed-id='{private_id}']").first.wait_for(timeout=30_000)
    page.click("[data-testid=nav-gallery]")
    tile = page.locator(f"{TILE}[data-embed-id='{private_id}']")
    tile.locator("img[data-private=open]").wait_for(timeout=30_000)
    assert page.locator(TILE).first.get_attribute("data-embed-id") == private_id  # newest first
    assert tile.locator("img").get_attribute("src").startswith("blob:")
    assert tile.get_attribute("aria-label") == "secret-garden.png, private, uploaded"
    # The chat filter: only the chat's image.
    chats = page.locator("[data-testid=filter-chat] option")
    _until(page, "document.querySelectorAll('[data-testid=filter-chat] option').length > 1")
    page.select_option("[data-testid=filter-chat]", chats.nth(1).get_attribute("value"))
    page.locator("[data-testid=gallery-end]").filter(has_text="All 1 shown.").wait_for()
    assert page.eval_on_selector_all(TILE, "ts => ts.map(t => t.dataset.embedId)") == [private_id]
    page.select_option("[data-testid=filter-chat]", "")
    page.locator(f"{TILE} >> nth=1").wait_for()
    vault_id = page.locator(TILE).nth(1).get_attribute("data-embed-id")
    page.click("[data-testid=select-mode]")
    page.locator(TILE).first.click()
    page.locator(TILE).nth(1).click()
    with page.expect_download() as download:
        page.click("[data-testid=download-zip]")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    names = archive.namelist()
    assert names == [f"photo-{COUNT - 1}-{vault_id[:8]}.png", "NOT-INCLUDED.txt"]
    assert f"{private_id}  private" in archive.read("NOT-INCLUDED.txt").decode()
    original = page.request.get(f"/v1/embeds/{vault_id}/file?format=original").body()
    assert archive.read(names[0]) == original
    page.locator("[data-testid=gallery-note]").filter(has_text="1 private image is not in it").wait_for()
