"""What the browser tests share: Chromium's flags, the test password, signing up, and the waits
and reads a user's eye makes (a card finished and faded in, the socket online, ids of cards)."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.factories import png_bytes as factory_png

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-Good-passw0rd!"


def unique(name: str) -> str:
    """``name`` with a suffix of its own: the tier's modules share one stack (one database), and
    a module-scoped user may be signed up again when its module's tests are not run in a row."""
    return f"{name}-{uuid.uuid4().hex[:6]}"


def submit_sign_up(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign ``username`` up through the form on ``page``, which ends on the chat, logged in."""
    page.goto("/signup/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", password)
    page.fill("input[name=password2]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def sign_up(context, base_url: str, username: str, password: str = PASSWORD) -> str:
    """Sign a new user up in ``context`` (the browser then holds a logged-in session) under
    ``unique(username)``, which it returns."""
    username = unique(username)
    page = context.new_page()
    submit_sign_up(page, base_url, username, password)
    page.close()
    return username


def signed_in_page(browser, stack, username: str):
    """A new context whose user ``username`` (exactly) has just signed up, and its page on the
    chat with the socket online. bypass_csp: as in ``signed_in_context``."""
    context = browser.new_context(
        base_url=stack.url, viewport={"width": 1280, "height": 860}, bypass_csp=True
    )
    page = context.new_page()
    submit_sign_up(page, stack.url, username)
    page.wait_for_selector("[data-testid=connection][data-state=online]", state="attached")
    return context, page


def signed_in_context(browser, stack, username: str, *, width: int = 1280, height: int = 860):
    """A browser context of a newly signed-up user on ``stack``. bypass_csp: the tests poll with
    string expressions, which Playwright evaluates with eval() in the page; the pages' policy
    itself is checked, unbypassed, in tests/browser/test_csp.py."""
    context = browser.new_context(
        base_url=stack.url, viewport={"width": width, "height": height}, bypass_csp=True
    )
    sign_up(context, stack.url, username)
    return context


def make_link(page, *, password: str = "", expiry: str = "1d") -> str:
    """A share link of the image open in the viewer, made through its Share dialog."""
    page.click("[data-testid=viewer-share]")
    dialog = page.locator("[data-testid=share-dialog]")
    dialog.wait_for(state="visible")
    page.select_option("[data-testid=share-expiry]", expiry)
    page.fill("[data-testid=share-password-input]", password)
    page.click("[data-testid=share-create]")
    link = page.locator("[data-testid=share-link]")
    link.wait_for(state="visible", timeout=30_000)
    value = link.input_value()
    page.click("[data-testid=share-dialog] >> text=Close")
    return value


# The strict policy the app's CSP middleware sends (no inline script or style, no third party):
# set on the share page too, so the page is proven to work under it on any branch.
STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def _with_strict_csp(route) -> None:
    response = route.fetch()
    route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})


def visit(browser, link: str):
    """A fresh context (no cookies, no account) for a share link, recording every request it
    makes, under the strict CSP; a CSP violation lands in the list as a console message."""
    context = browser.new_context()
    context.route("**/s/*", _with_strict_csp)
    page = context.new_page()
    requests: list = []
    page.on("request", lambda request: requests.append(request))
    page.on("console", lambda message: requests.append(message.text))  # CSP violations land here
    return context, page, requests


def shot(page, name: str, *, dark: bool = False) -> None:
    """A screenshot; with ``dark``, the same state in the dark theme too (``name-dark.png``)."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if dark:
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=str(ARTIFACTS / f"{name}-dark.png"))
        page.emulate_media(color_scheme="light")


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
    page.wait_for_function(  # faded in: what a user sees, and what the screenshots show
        "s => [...document.querySelectorAll(s)].some(i => getComputedStyle(i).opacity === '1')",
        arg=selector,
        timeout=timeout,
    )
    return page.locator(selector).first


def ready(page) -> None:
    page.wait_for_selector("[data-testid=connection][data-state=online]", state="attached")
    page.wait_for_selector("[data-testid=messages][data-loaded=true]", state="attached")


def message_ids(page) -> list[str]:
    return page.eval_on_selector_all(
        "li.message[data-message-id]", "nodes => nodes.map(n => n.dataset.messageId)"
    )


def in_view(page, embed_id: str) -> None:
    """Wait until the card (with its image loaded) is fully inside the message list's viewport."""
    page.wait_for_function(
        """id => {
            const card = document.querySelector(`li.message [data-embed-id='${id}']`);
            const list = document.querySelector('[data-testid=messages]');
            if (!card || !card.querySelector('img.loaded')) return false;
            const a = card.getBoundingClientRect(), b = list.getBoundingClientRect();
            return a.top >= b.top - 2 && a.bottom <= b.bottom + 2;
        }""",
        arg=embed_id,
        timeout=30_000,
    )


def text_fits(page, selector: str, text_js: str) -> bool:
    """Whether a text (a JS expression over the element ``el``) fits the element's content box."""
    return page.eval_on_selector(
        selector,
        f"""el => {{
            const style = getComputedStyle(el);
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = `${{style.fontWeight}} ${{style.fontSize}} ${{style.fontFamily}}`;
            const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
            return ctx.measureText({text_js}).width <= room;
        }}""",
    )


def png_bytes(size=(640, 480), color=(220, 80, 40)) -> bytes:
    """A picture to upload from the page (the factories' PNG, at a browser test's size)."""
    return factory_png(size, color)
