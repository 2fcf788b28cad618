"""Zero-knowledge (private) images in Debian's Chromium against the full stack: sign-up makes
the master key (the page says when it is open, and only then does the server have it); a
private upload is encoded in a Web Worker (or on the page without OffscreenCanvas), encrypted
in the page and decrypts after a reload; a second browser context with the session but without
the key sees only ciphertext; the consent flow makes a vault copy; a password change re-wraps
the key and log-in unwraps it."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser.helpers import PASSWORD, make_link, signed_in_page, visit

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-client-mode")]

NEW_PASSWORD = "an-Other-passw0rd?"
CARD = "[data-testid=image-embed-preview][data-status=finished]"


def _photo(path) -> str:
    """A JPEG whose EXIF says "rotate 90°" and names a camera: the page must apply the one
    and drop the other."""
    image = Image.new("RGB", (64, 32), (200, 40, 40))
    image.paste((20, 40, 200), (0, 0, 32, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"  # make
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    path.write_bytes(buffer.getvalue())
    return str(path)


HAS_KEY = """() => new Promise((resolve) => {
  const request = indexedDB.open("openmates-images-keys", 1);
  request.onupgradeneeded = () => request.result.createObjectStore("keys");
  request.onsuccess = () => {
    const store = request.result.transaction("keys").objectStore("keys");
    const master = store.get("master");
    const pending = store.get("pending");
    master.onsuccess = () => { pending.onsuccess = () => resolve(
      Boolean(master.result) && master.result.extractable === false
      && master.result.algorithm.name === "AES-GCM" && !pending.result); };
  };
})"""


def _has_key(page) -> bool:
    """Whether this browser holds the master key, non-extractable, and no password key is left."""
    return page.evaluate(HAS_KEY)


# The page's own word that its unlock has ended (master-key.js). Not HAS_KEY: Playwright's
# wait_for_function takes a predicate's promise as its answer, false included, so waiting on an
# IndexedDB read returned at once, and the server could be asked before the browser's POST of
# the new key had been answered (the 404 one CI run saw).
KEY_SETTLED = "html[data-master-key=open], html[data-master-key=locked]"


def _wait_for_key(page) -> None:
    """The page after a log-in opens the master key as it loads (PBKDF2 takes a moment): wait
    until it says it is done, then check that it holds the key."""
    page.wait_for_selector(KEY_SETTLED, state="attached", timeout=30_000)
    assert page.evaluate("document.documentElement.dataset.masterKey") == "open"
    assert _has_key(page)


def _private_upload(page, tmp_path) -> str:
    page.check("[data-testid=private-upload]")
    page.set_input_files("[data-testid=attach-input]", _photo(tmp_path / "photo.jpg"))
    chip = page.locator(f"[data-testid=attachments] {CARD}")
    chip.locator("img[data-private=open]").wait_for(timeout=30_000)
    embed_id = chip.get_attribute("data-embed-id")
    page.click("[data-testid=composer-send]")
    page.locator(f"[data-testid=messages] {CARD}[data-embed-id='{embed_id}']").first.wait_for(timeout=30_000)
    return embed_id


def _open_viewer(page, embed_id: str) -> None:
    card = page.locator(f"[data-testid=messages] {CARD}[data-embed-id='{embed_id}']")
    card.locator("[data-testid=open-image]").click()


def _close_viewer(page) -> None:
    page.click("[data-testid=fullscreen] [data-action=close]")
    page.locator("[data-testid=fullscreen]").wait_for(state="hidden")


def _shown(page, embed_id: str) -> int:
    img = page.locator(f"{CARD}[data-embed-id='{embed_id}'] img[data-private=open]").first
    img.wait_for(timeout=30_000)
    assert img.get_attribute("src").startswith("blob:")
    return img.evaluate("i => i.decode().then(() => i.naturalWidth)")


def test_the_page_says_open_only_once_the_server_has_the_key(browser, stack):
    """While the sign-up's POST of the new master key is unanswered, the server truly has no
    key (404) and the page says "unlocking", not "open"; once answered, the page says "open"
    and the server's first answer is the key."""
    seen: dict = {}

    def hold_post(route) -> None:  # runs while the browser waits for the POST's answer
        if route.request.method != "POST":
            route.continue_()
            return
        seen["page_says"] = page.evaluate("document.documentElement.dataset.masterKey")
        seen["page_has_key"] = _has_key(page)
        seen["server_says"] = page.request.get("/v1/account/master_key").status
        route.continue_()

    context = browser.new_context(base_url=stack.url, bypass_csp=True)
    context.route("**/v1/account/master_key", hold_post)
    page = context.new_page()
    page.goto("/signup/")
    page.fill("input[name=username]", "zk-held")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    _wait_for_key(page)
    assert seen == {"page_says": "unlocking", "page_has_key": False, "server_says": 404}
    response = page.request.get("/v1/account/master_key")
    assert response.status == 200, response.text()
    context.close()


def test_an_account_without_a_master_key_gets_one_at_its_next_log_in(browser, stack):
    """An account made without the page's script (as every account made before master keys
    was) has none; its next log-in in a browser makes one, wrapped for its password."""
    plain = browser.new_context(base_url=stack.url, java_script_enabled=False)
    page = plain.new_page()
    page.goto("/signup/")
    page.fill("input[name=username]", "zk-older")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    assert page.request.get("/v1/account/master_key").status == 404
    plain.close()

    context = browser.new_context(base_url=stack.url)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "zk-older")
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=login-form] button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    _wait_for_key(page)
    stored = page.request.get("/v1/account/master_key")
    assert stored.status == 200, stored.text()
    assert stored.json()["iterations"] >= 600_000
    context.close()


WATCH_CSP = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation', e => window.__violations.push("
    "`${e.violatedDirective} ${e.blockedURI}`));"
)


@pytest.mark.parametrize("encoder", ["worker", "page"])
def test_private_renditions_are_encoded_in_a_worker_or_on_the_page(browser, stack, tmp_path, encoder):
    """A private upload's three re-encodes run in a Web Worker (OffscreenCanvas), under the
    app's strict CSP; a browser without OffscreenCanvas encodes on the page instead. Either way
    the preview is the photo turned upright and all three files reach the server sealed."""
    context = browser.new_context(base_url=stack.url, viewport={"width": 1280, "height": 860})
    context.add_init_script(WATCH_CSP)
    if encoder == "page":
        context.add_init_script("delete globalThis.OffscreenCanvas;")
    page = context.new_page()
    workers: list[str] = []
    page.on("worker", lambda worker: workers.append(worker.url))
    page.goto("/signup/")
    page.fill("input[name=username]", f"zk-{encoder}")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    _wait_for_key(page)

    page.check("[data-testid=private-upload]")
    page.set_input_files("[data-testid=attach-input]", _photo(tmp_path / "photo.jpg"))
    chip = page.locator(f"[data-testid=attachments] {CARD}")
    shown = chip.locator("img[data-private=open]")
    shown.wait_for(timeout=30_000)
    assert shown.evaluate("i => i.decode().then(() => [i.naturalWidth, i.naturalHeight])") == [32, 64]
    embed_id = chip.get_attribute("data-embed-id")
    ivs = set()
    for variant in ("original", "full", "preview"):
        raw = page.request.get(f"/v1/embeds/{embed_id}/file?format={variant}")
        assert raw.status == 200 and raw.body()[:4] == b"OMC1", variant
        ivs.add(raw.body()[4:16])
    assert len(ivs) == 3  # a fresh IV per file
    encoders = [url for url in workers if url.endswith("/static/js/private-encode-worker.js")]
    assert len(encoders) == (1 if encoder == "worker" else 0), workers
    assert page.evaluate("window.__violations") == []
    context.close()


def test_private_upload_decrypts_only_with_the_key(browser, stack, tmp_path):
    owner, page = signed_in_page(browser, stack, "zk-owner")
    _wait_for_key(page)
    response = page.request.get("/v1/account/master_key")
    assert response.status == 200, response.text()
    stored = response.json()
    assert stored["iterations"] >= 600_000 and stored["kdf"] == "PBKDF2-SHA256"

    embed_id = _private_upload(page, tmp_path)
    page.wait_for_url("**/c/**")
    chat_url = page.url
    page.reload()
    assert _shown(page, embed_id) > 0
    content = page.request.get(f"/v1/embeds/{embed_id}/content").json()
    assert content["encryption_mode"] == "client" and content["files"] is None

    # The viewer: name, type and the orientation applied, from the decrypted meta.
    page.locator(
        f"[data-testid=messages] {CARD}[data-embed-id='{embed_id}'] [data-testid=open-image]"
    ).click()
    viewer = page.locator("[data-testid=fullscreen]")
    viewer.wait_for(state="visible")
    assert "photo.jpg" in page.locator("[data-testid=fullscreen-info]").inner_text()
    assert page.locator("[data-testid=fullscreen-meta]").inner_text().startswith("JPEG · 32×64")
    download = page.locator("[data-testid=download-original][href^='blob:']")  # decrypted in the page
    download.wait_for(state="attached", timeout=30_000)
    href = download.get_attribute("href")
    original = page.evaluate(
        "async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer()))", href
    )
    assert bytes(original[:2]) == b"\xff\xd8" and b"SecretCam" not in bytes(original)

    # Share: the browser decrypts the private full WEBP and seals it for the link; a visitor
    # with no account opens it from this server only.
    link = make_link(page)
    shared, visitor, requests = visit(browser, link)
    visitor.goto(link)
    visitor.wait_for_selector("[data-testid=share-image][src^='blob:']", timeout=30_000)
    image = visitor.locator("[data-testid=share-image]")
    assert image.evaluate("i => i.decode().then(() => [i.naturalWidth, i.naturalHeight])") == [32, 64]
    # Re-encoded in the browser, the private upload has no credentials (and none was asked for).
    assert visitor.locator("[data-testid=share-credentials]").inner_text() == "No Content Credentials."
    assert not [m for m in requests if isinstance(m, str)], requests  # no CSP violation, no error
    assert all(r.url.startswith(stack.url) or r.url.startswith("blob:") for r in requests)
    shared.close()
    _close_viewer(page)

    # Same session cookie, no key in this browser: only ciphertext, shown locked.
    thief = browser.new_context(base_url=stack.url, storage_state=owner.storage_state())
    other = thief.new_page()
    other.goto(chat_url)
    other.locator(f"{CARD}[data-embed-id='{embed_id}'] img[data-private=locked]").first.wait_for(
        timeout=30_000
    )
    assert not other.locator(f"{CARD}[data-embed-id='{embed_id}'] img").first.get_attribute("src")
    raw = other.request.get(f"/v1/embeds/{embed_id}/file?format=original")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["x-encryption-mode"] == "client" and raw.body()[:4] == b"OMC1"
    assert b"\xff\xd8\xff" not in raw.body()[:64]
    thief.close()

    # Consent: a tool that needs pixels asks once, then works on a vault copy.
    page.locator(
        f"[data-testid=messages] {CARD}[data-embed-id='{embed_id}'] [data-testid=open-image]"
    ).click()
    viewer.wait_for(state="visible")
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/v1/embeds/upload") else None)
    page.click("[data-testid=crop-tool]")
    consent = page.locator("[data-testid=consent-dialog]")
    consent.wait_for(state="visible")
    page.click("[data-testid=consent-cancel]")  # no: nothing is sent, the image stays private
    consent.wait_for(state="hidden")
    assert viewer.get_attribute("data-current-embed") == embed_id
    page.click("[data-testid=crop-tool]")
    consent.wait_for(state="visible")
    assert uploads == []
    page.click("[data-testid=consent-ok]")
    page.wait_for_function(
        "id => { const v = document.querySelector('[data-testid=fullscreen]');"
        " return v.dataset.currentEmbed && v.dataset.currentEmbed !== id; }",
        arg=embed_id,
        timeout=30_000,
    )
    copy_id = viewer.get_attribute("data-current-embed")
    copy = page.request.get(f"/v1/embeds/{copy_id}/content").json()
    assert copy["encryption_mode"] == "vault" and copy["derived_from"] == embed_id
    page.locator("[data-testid=crop-tool][aria-pressed=true]").wait_for(timeout=10_000)
    private = page.request.get(f"/v1/embeds/{embed_id}/content").json()
    assert private["encryption_mode"] == "client"
    _close_viewer(page)
    # Asked once: another tool on the private original goes to the same copy without asking.
    _open_viewer(page, embed_id)
    viewer.wait_for(state="visible")
    page.click("[data-testid=crop-tool]")
    page.wait_for_function(
        "id => document.querySelector('[data-testid=fullscreen]').dataset.currentEmbed === id",
        arg=copy_id,
        timeout=30_000,
    )
    assert not consent.is_visible() and len(uploads) == 1
    _close_viewer(page)

    # A question in the composer about a private attachment asks the same way first, then is
    # answered about the vault copy; the attachment itself stays private.
    page.check("[data-testid=private-upload]")
    page.set_input_files("[data-testid=attach-input]", _photo(tmp_path / "second.jpg"))
    chip = page.locator(f"[data-testid=attachments] {CARD}")
    chip.locator("img[data-private=open]").wait_for(timeout=30_000)
    attached_id = chip.get_attribute("data-embed-id")
    page.fill("[data-testid=composer-input]", "What is in this picture?")
    page.click("[data-testid=composer-send]")
    page.locator("[data-testid=consent-dialog]").wait_for(state="visible")
    page.click("[data-testid=consent-ok]")
    page.locator(
        "[data-testid=messages] [data-testid=image-embed-preview][data-status=finished]"
        " [data-testid=analysis-answer]"
    ).first.wait_for(timeout=30_000)
    assert page.locator("[data-testid=composer-error]").inner_text().strip() == ""
    attached = page.request.get(f"/v1/embeds/{attached_id}/content").json()
    assert attached["encryption_mode"] == "client"

    # Password change re-wraps the key; a log-in with the new password unwraps it.
    page.goto("/settings/")
    assert "forget your password" in page.locator("[data-testid=private-warning]").inner_text()
    page.fill("[data-testid=password-form] input[name=old_password]", PASSWORD)
    page.fill("[data-testid=password-form] input[name=new_password1]", NEW_PASSWORD)
    page.fill("[data-testid=password-form] input[name=new_password2]", NEW_PASSWORD)
    page.click("[data-testid=change-password]")
    page.wait_for_url(f"{stack.url}/settings/")
    assert "re-wrapped" in page.locator("[data-testid=flash]").inner_text()
    rewrapped = page.request.get("/v1/account/master_key").json()
    assert rewrapped["salt"] != stored["salt"] and rewrapped["wrapped_key"] != stored["wrapped_key"]
    page.click("[data-testid=logout]")
    page.wait_for_url("**/login/**")
    assert not _has_key(page)
    page.fill("input[name=username]", "zk-owner")
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("[data-testid=login-form] button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    _wait_for_key(page)
    page.goto(chat_url)
    assert _shown(page, embed_id) > 0
    owner.close()
