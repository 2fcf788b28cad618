"""The gallery with 200 images in Debian's Chromium, against the full stack: how soon the first
page paints, and how smoothly scrolling to the end loads the other pages.

First paint, per cold load of /gallery (a new browser context, so no cached previews):
  * ``list ms``: the first GET /v1/embeds, request start to response end (Resource Timing);
  * ``list done ms``: navigation start to that response's end (what the page waits for first);
  * ``first tile ms``: navigation start to the first preview decoded (its <img> ``load``);
  * ``fold ms``: navigation start to every tile in the first viewport showing its preview;
  * ``previews``: how many previews that load fetched (the lazy loading: the fold and a margin).
Scroll, from the top to "All 200 shown." by wheel steps of 600 px every 50 ms:
  * ``scroll s``: wall time until all 200 tiles are in the grid;
  * ``frame p95/max ms``: gaps between animation frames while scrolling (16.7 ms = 60 fps);
  * ``long tasks``: main-thread tasks over 50 ms (PerformanceObserver ``longtask``).
Medians of ROUNDS runs (default 5). No figure is asserted anywhere: tests/browser/test_gallery.py
checks the behaviour, this measures it. Run by hand on an idle machine:
`.venv/bin/python bench/gallery.py` (env: ROUNDS=5, IMAGES=200); record in bench/RESULTS.md.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The browser helpers import the test factories, which need settings (never used here: the
# stack's processes have their own).
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="omi-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmates_images.settings")
import django

django.setup()

from tests.browser.helpers import CHROMIUM_ARGS, PASSWORD  # noqa: E402
from tests.live_stack import ROOT, Stack  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
IMAGES = int(os.environ.get("IMAGES", "200"))
TILE = "[data-testid=gallery-tile]"

# Installed before the page's own scripts: when each preview decoded, frame gaps, long tasks.
PROBE = """
window.__bench = { loads: [], frames: [], longTasks: 0, recording: false };
document.addEventListener('load', (e) => {
  if (e.target.tagName === 'IMG' && e.target.closest('[data-testid=gallery-tile]'))
    window.__bench.loads.push([e.target.closest('.tile').dataset.embedId, performance.now()]);
}, true);
new PerformanceObserver((list) => { window.__bench.longTasks += list.getEntries().length; })
  .observe({ type: 'longtask', buffered: true });
let last = null;
const tick = (now) => {
  if (window.__bench.recording && last !== null) window.__bench.frames.push(now - last);
  last = now;
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""

FOLD = """() => {
  const tiles = [...document.querySelectorAll('[data-testid=gallery-tile]')];
  const fold = tiles.filter((t) => t.getBoundingClientRect().top < innerHeight);
  const loaded = new Map(window.__bench.loads);
  if (!fold.length || !fold.every((t) => loaded.has(t.dataset.embedId))) return null;
  const list = performance.getEntriesByType('resource').find((e) => e.name.includes('/v1/embeds?'));
  return {
    list: list ? list.responseEnd - list.requestStart : null,
    listed: list ? list.responseEnd : null,
    first: Math.min(...loaded.values()),
    fold: Math.max(...fold.map((t) => loaded.get(t.dataset.embedId))),
    previews: performance.getEntriesByType('resource')
      .filter((e) => e.name.includes('format=preview')).length,
  };
}"""


def _sign_up(browser, url: str) -> None:
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto("/signup/")
    page.fill("input[name=username]", "bench-gallery")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    context.storage_state(path=str(STATE))
    context.close()


STATE = Path("/tmp/omi-bench-gallery-state.json")


def _poll(page, script: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while (value := page.evaluate(script)) in (None, False):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out: {script[:60]}")
        page.wait_for_timeout(20)
    return value


def _round(browser, url: str) -> dict:
    context = browser.new_context(
        base_url=url, storage_state=str(STATE), viewport={"width": 1280, "height": 860}
    )
    context.add_init_script(PROBE)
    page = context.new_page()
    page.goto("/gallery")
    paint = _poll(page, f"({FOLD})()")
    page.wait_for_load_state("networkidle")
    page.evaluate("window.__bench.recording = true")
    started = time.monotonic()
    while page.locator(TILE).count() < IMAGES:
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(50)
        if time.monotonic() - started > 120:
            raise RuntimeError("scrolling never reached the end")
    scroll_s = time.monotonic() - started
    page.evaluate("window.__bench.recording = false")
    frames = sorted(page.evaluate("window.__bench.frames"))
    long_tasks = page.evaluate("window.__bench.longTasks")
    context.close()
    return {
        "list ms": paint["list"],
        "list done ms": paint["listed"],
        "first tile ms": paint["first"],
        "fold ms": paint["fold"],
        "previews": paint["previews"],
        "scroll s": scroll_s,
        "frame p95 ms": frames[int(0.95 * (len(frames) - 1))],
        "frame max ms": frames[-1],
        "long tasks": long_tasks,
    }


def main() -> None:
    from playwright.sync_api import sync_playwright

    with Stack(web_workers=1, worker_processes=1) as stack, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        _sign_up(browser, stack.url)
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "tests.gallery_seed", "bench-gallery", str(IMAGES)],
            cwd=ROOT,
            env=stack.env,
            check=True,
            capture_output=True,
        )
        print(f"seeded {IMAGES} images in {time.monotonic() - started:.1f} s")
        rounds = [_round(browser, stack.url) for _ in range(ROUNDS)]
        browser.close()
    print(f"median of {ROUNDS} cold loads of /gallery with {IMAGES} images:")
    for name in rounds[0]:
        values = [r[name] for r in rounds if r[name] is not None]
        print(
            f"  {name:>14}: {statistics.median(values):8.1f}   (min {min(values):.1f}, max {max(values):.1f})"
        )


if __name__ == "__main__":
    main()
