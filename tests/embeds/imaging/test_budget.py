"""Untrusted images are decoded within one memory budget per process: an image too big for it is
refused by its decoded size, renders beyond it wait (then 503), and a burst of decompression
bombs gets an answer in the error shape for every request (RSS and /healthz latency under such
a burst are measured by bench/bombs.py, not asserted here)."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from embeds.imaging import budget as image_budget

MIB = 1024 * 1024


def _png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


def bomb() -> bytes:
    """15 KB on the wire, 40 M pixels once decoded (just under MAX_IMAGE_PIXELS)."""
    return _png((6320, 6320), "1")


def _upload(client, data: bytes):
    return client.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("x.png", data, "image/png")}, format="multipart"
    )


@pytest.fixture
def budget_of(settings):
    def set_budget(size: int, queue_seconds: float = 20) -> None:
        settings.EMBEDS = {
            **settings.EMBEDS,
            "IMAGE_MEMORY_BUDGET_BYTES": size,
            "IMAGE_QUEUE_SECONDS": queue_seconds,
        }

    return set_budget


def test_the_estimate_counts_mode_and_bit_depth():
    assert image_budget.pixel_bytes("1") == 1
    assert image_budget.pixel_bytes("I;16") == 2
    assert image_budget.pixel_bytes("RGB") == image_budget.pixel_bytes("I") == 4
    one_bit, rgba = image_budget.estimate_bytes(100, 100, "1"), image_budget.estimate_bytes(100, 100, "RGBA")
    assert rgba > one_bit > 100 * 100 * 10  # each render step costs bytes per pixel too


def test_the_default_budget_fits_the_largest_accepted_image(settings):
    largest = image_budget.estimate_bytes(settings.EMBEDS["MAX_IMAGE_PIXELS"], 1, "RGBA")
    assert image_budget.budget_bytes() >= largest


@pytest.mark.django_db
def test_an_image_bigger_than_the_budget_is_refused_by_its_decoded_size(alice_api, budget_of):
    budget_of(64 * MIB)
    response = _upload(alice_api, _png((2500, 2000)))  # 5 M pixels: ~95 MiB to render
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "image_too_large" and error["field"] == "file"
    assert _upload(alice_api, _png((800, 600))).status_code == 201
    assert image_budget.budget.used == 0


@pytest.mark.django_db
def test_no_memory_free_in_time_is_a_503_with_retry_after(alice_api, budget_of):
    budget_of(64 * MIB, queue_seconds=0.2)
    with image_budget.budget.reserve(60 * MIB, wait_seconds=0):  # another render holds most of it
        response = _upload(alice_api, _png((800, 600)))
    assert response.status_code == 503, response.content[:300]
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0
    assert _upload(alice_api, _png((800, 600))).status_code == 201  # free again


def test_parallel_renders_never_hold_more_than_the_budget(budget_of):
    from embeds import imaging

    one = image_budget.estimate_bytes(1200, 900, "RGB")
    budget_of(2 * one + 1)  # room for two at a time
    data = _png((1200, 900))
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], image_budget.budget.used)
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: imaging.render_upload(data), range(6)))
    stop.set()
    watcher.join()
    assert all(r["full"].width == 1200 for r in results)
    assert one <= peak[0] <= 2 * one
    assert image_budget.budget.used == 0


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_bombs_gets_json_answers_and_the_server_stays_up(live_server, alice, budget_of):
    from accounts.api_keys import do_create_api_key

    budget_of(1024 * MIB)  # one bomb at a time (~600 MiB each), whatever the machine
    key = do_create_api_key(alice).raw_key
    data = bomb()
    assert len(data) < 20_000

    def upload(_: int) -> requests.Response:
        return requests.post(
            f"{live_server.url}/v1/embeds/upload",
            files={"file": ("bomb.png", data, "image/png")},
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(upload, range(4)))
    for response in responses:
        assert response.headers["Content-Type"] == "application/json", response.content[:200]
        assert response.status_code in (201, 503), response.json()
    assert requests.get(f"{live_server.url}/healthz", timeout=10).status_code == 200
    assert image_budget.budget.used == 0
