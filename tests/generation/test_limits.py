"""Per-user limits under concurrency: many parallel requests of one user, over real HTTP, against
the real database (PostgreSQL here, SQLite in the embedded server), never get past a cap."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from embeds.models import UsageEvent
from generation.models import Task
from tests.embedded import embedded_server as start_embedded

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PARALLEL = 50


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def _parallel(call, count: int = PARALLEL) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


@pytest.fixture
def alice_key(alice):
    from accounts.api_keys import do_create_api_key

    return do_create_api_key(alice).raw_key


def _generate(base: str, key: str):
    def call(n: int) -> requests.Response:
        return requests.post(
            f"{base}/v1/apps/images/generate",
            json={"prompt": f"burst {n} [[sleep:15]]"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )

    return call


def _statuses(responses: list[requests.Response]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


def test_parallel_generates_never_exceed_the_concurrency_cap(live_server, alice_key, broker, settings):
    settings.GENERATION = {**settings.GENERATION, "MAX_CONCURRENT_PER_USER": 8, "RATE_LIMIT_PER_MINUTE": 1000}
    responses = _parallel(_generate(live_server.url, alice_key))
    statuses = _statuses(responses)
    assert set(statuses) <= {202, 429}, statuses
    assert statuses[202] == 8, statuses  # all at once: exactly the cap gets in, the rest wait
    refused = [r for r in responses if r.status_code == 429]
    assert all(r.json()["error"]["code"] == "too_many_active_tasks" for r in refused)
    assert all(int(r.headers["Retry-After"]) > 0 for r in refused)
    assert Task.objects.count() == 8


def test_parallel_generates_never_exceed_the_rate_per_minute(live_server, alice_key, broker, settings):
    limits = {"MAX_CONCURRENT_PER_USER": 1000, "RATE_LIMIT_PER_MINUTE": 30}
    settings.GENERATION = {**settings.GENERATION, **limits}
    statuses = _statuses(_parallel(_generate(live_server.url, alice_key)))
    assert statuses == {202: 30, 429: 20}, statuses
    assert Task.objects.count() == 30


def test_parallel_uploads_never_exceed_the_upload_rate(live_server, alice_key, settings):
    settings.EMBEDS = {**settings.EMBEDS, "UPLOAD_RATE_LIMIT_PER_MINUTE": 5}
    png = _png()

    def upload(n: int) -> requests.Response:
        return requests.post(
            f"{live_server.url}/v1/embeds/upload",
            files={"file": (f"p{n}.png", png, "image/png")},
            headers={"Authorization": f"Bearer {alice_key}"},
            timeout=60,
        )

    responses = _parallel(upload, 20)
    statuses = _statuses(responses)
    assert statuses == {201: 5, 429: 15}, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    assert UsageEvent.objects.count() == 5


@pytest.fixture
def embedded_limited(tmp_path):
    """The embedded default (SQLite, in-process workers) with a cap of 8 and prompt hooks, so
    tasks stay in progress while the burst arrives."""
    with start_embedded(
        tmp_path,
        TEST_PROMPT_HOOKS="1",
        GENERATION_MAX_CONCURRENT_PER_USER="8",
        GENERATION_RATE_LIMIT_PER_MINUTE="1000",
    ) as server:
        yield server.base, server.key


def test_parallel_generates_hold_the_cap_in_the_embedded_default(embedded_limited):
    base, key = embedded_limited
    statuses = _statuses(_parallel(_generate(base, key)))
    assert set(statuses) <= {202, 429}, statuses
    assert statuses[202] == 8, statuses


def test_parallel_reverse_searches_hold_the_cap_and_leave_no_upload_behind(
    live_server, alice_key, broker, settings
):
    """An uploaded image becomes an embed before its task is made; if a parallel request took
    the last slot meanwhile, the refused request deletes its upload again."""
    from embeds.models import Embed

    settings.GENERATION = {
        **settings.GENERATION,
        "SERPAPI_API_KEY": "serp-test-key",  # no task runs: no worker, so SerpApi is never called
        # A SerpApi on loopback can fetch from our loopback PUBLIC_BASE_URL: search is available.
        "SERPAPI_BASE_URL": "http://127.0.0.1:9",
        "MAX_CONCURRENT_PER_USER": 3,
        "RATE_LIMIT_PER_MINUTE": 1000,
    }
    settings.EMBEDS = {**settings.EMBEDS, "UPLOAD_RATE_LIMIT_PER_MINUTE": 1000}
    png = _png()

    def search(n: int) -> requests.Response:
        return requests.post(
            f"{live_server.url}/v1/apps/images/reverse-search",
            files={"file": (f"q{n}.png", png, "image/png")},
            headers={"Authorization": f"Bearer {alice_key}"},
            timeout=60,
        )

    statuses = _statuses(_parallel(search, 20))
    assert statuses[202] == 3 and set(statuses) == {202, 429}, statuses
    assert Task.objects.count() == 3
    assert Embed.objects.filter(type=Embed.Type.IMAGE).count() == 3  # one upload per task, no orphan
