"""Share links in Debian's Chromium against the full stack: the viewer's Share makes a link, a
fresh browser context (no account) opens and decrypts it, a wrong password gets nothing, and a
revoked link answers 410. Every request the share page makes goes to this server only."""

from __future__ import annotations

import pytest

from tests.browser.helpers import STRICT_CSP, finished, generate, make_link, signed_in_page, unique, visit

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-sharing")]


def test_share_open_wrong_password_and_revoke(browser, stack):
    # bypass_csp (signed_in_page): the chat helpers poll with string predicates, which a strict
    # CSP blocks; the visitors' contexts keep the CSP, so the share page is tested as they get it.
    owner, page = signed_in_page(browser, stack, unique("sharer"))
    embed_id = generate(page, "A lighthouse in fog", "1:1")
    finished(page, embed_id).click()
    page.locator("[data-testid=fullscreen]").wait_for(state="visible")
    link = make_link(page)
    path, key = link.split("#", 1)
    assert path.startswith(f"{stack.url}/s/") and len(key) == 43  # 32 bytes, base64url

    context, visitor, requests = visit(browser, link)
    assert visitor.goto(link).headers["content-security-policy"] == STRICT_CSP
    image = visitor.locator("[data-testid=share-image]")
    visitor.wait_for_selector("[data-testid=share-image][src^='blob:']", timeout=30_000)
    assert image.evaluate("i => i.decode().then(() => i.naturalWidth)") > 0
    assert image.is_visible()
    assert visitor.locator("[data-testid=share-ai-label]").inner_text().startswith("Made with AI")
    assert "Content Credentials" in visitor.locator("[data-testid=share-credentials]").inner_text()
    assert not [m for m in requests if isinstance(m, str)], requests  # no CSP violation, no error
    urls = [r.url for r in requests]
    assert all(u.startswith(stack.url) or u.startswith("blob:") for u in urls), urls
    assert not any(key in u for u in urls)  # the fragment never goes to the server
    assert any(u.endswith("/data") for u in urls)
    context.close()

    protected = make_link(page, password="open sesame 42")
    context, visitor, requests = visit(browser, protected)
    responses: list = []
    visitor.on("response", lambda response: responses.append(response))
    visitor.goto(protected)
    visitor.fill("[data-testid=share-password]", "wrong guess")
    visitor.click("[data-testid=share-password-submit]")
    error = visitor.locator("[data-testid=share-error]")
    error.wait_for(state="visible", timeout=30_000)
    assert error.inner_text() == "Wrong password."
    data = [r for r in responses if r.url.endswith("/data")]
    assert [r.status for r in data] == [403]
    assert "x-share-wrapped-key" not in data[0].headers  # and no ciphertext (test_sharing_api)
    assert not visitor.locator("[data-testid=share-image]").get_attribute("src")
    visitor.fill("[data-testid=share-password]", "open sesame 42")
    visitor.click("[data-testid=share-password-submit]")
    shown = visitor.locator("[data-testid=share-image][src^='blob:']")
    shown.wait_for(timeout=30_000)
    assert shown.evaluate("i => i.decode().then(() => i.naturalWidth)") > 0
    context.close()

    settings = owner.new_page()
    settings.goto("/settings/")
    share_id = path.rsplit("/", 1)[-1]
    row = settings.locator(f"[data-testid=share-row][data-share-id='{share_id}']")
    assert row.locator("[data-testid=share-views]").inner_text() == "1"
    row.locator("[data-testid=revoke-share]").click()
    settings.wait_for_url(f"{stack.url}/settings/")
    assert settings.locator(f"[data-testid=share-row][data-share-id='{share_id}']").count() == 0
    context, visitor, _ = visit(browser, link)
    response = visitor.goto(link)
    assert response.status == 410
    assert visitor.locator("[data-testid=share-gone]").is_visible()
    context.close()
    owner.close()
