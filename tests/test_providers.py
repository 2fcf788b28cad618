"""Gemini through the real google-genai client and fal through our requests code, each against a
local server speaking the provider's wire protocol; then both end to end through the worker."""

from __future__ import annotations

import base64
import io
import json
import threading
import time

import pytest
from PIL import Image

from generation.providers.base import Cancelled, GenerationRequest, ProviderError
from generation.providers.fal import FalProvider
from generation.providers.gemini import GeminiProvider
from generation.registry import ASPECT_RATIOS
from tests.conftest import wait_for_task
from tests.fakes.provider_servers import FalServer, GeminiServer


@pytest.fixture
def gemini_server():
    server = GeminiServer().start()
    yield server
    server.stop()


@pytest.fixture
def fal_server():
    server = FalServer().start()
    yield server
    server.stop()


def gemini(server, api_version="v1beta", timeout=30.0) -> GeminiProvider:
    return GeminiProvider(api_key="g-test-key", base_url=server.url, api_version=api_version, timeout=timeout)


def fal(server, timeout=30.0) -> FalProvider:
    return FalProvider(
        api_key="fal-test-key",
        queue_base_url=server.url,
        run_base_url=server.url,
        timeout=timeout,
        poll_interval=0.01,
        max_download_bytes=200_000,
    )


def request(aspect="1:1", **kwargs) -> GenerationRequest:
    kwargs.setdefault("provider_model", "gemini-3-pro-image-preview")
    return GenerationRequest(prompt="a red fox", aspect_ratio=aspect, **kwargs)


# --- Gemini ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("aspect", ASPECT_RATIOS)
def test_gemini_success_for_every_aspect_ratio(gemini_server, aspect):
    result = gemini(gemini_server).generate(request(aspect, image_size="2K"))
    assert result.mime == "image/png" and result.data.startswith(b"\x89PNG")
    sent = gemini_server.requests[-1]
    assert sent["path"] == "/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert sent["headers"]["x-goog-api-key"] == "g-test-key"
    config = json.loads(sent["body"])["generationConfig"]
    assert config["responseModalities"] == ["TEXT", "IMAGE"]
    assert config["imageConfig"] == {"aspectRatio": aspect, "imageSize": "2K"}
    assert result.usage["output_tokens"] == 1290 and result.model_version == "gemini-3-pro-image-preview-001"


def test_gemini_v1_path(gemini_server):
    gemini(gemini_server, api_version="v1").generate(request())
    assert gemini_server.requests[-1]["path"].startswith("/v1/models/")


def test_gemini_skips_thought_images(gemini_server):
    gemini_server.mode = "thoughts"
    result = gemini(gemini_server).generate(request())
    assert Image.open(io.BytesIO(result.data)).getpixel((0, 0)) == (30, 120, 220)  # not the red thought


@pytest.mark.parametrize("mode", ["prompt_block", "output_block"])
def test_gemini_blocks_are_content_blocked(gemini_server, mode):
    gemini_server.mode = mode
    with pytest.raises(ProviderError) as raised:
        gemini(gemini_server).generate(request())
    assert raised.value.code == "content_blocked" and not raised.value.retryable
    assert "blocked" in raised.value.message.lower() or "no image" in raised.value.message.lower()


def test_gemini_429_is_retryable_with_the_servers_delay(gemini_server):
    gemini_server.mode = "rate_limited_once"
    with pytest.raises(ProviderError) as raised:
        gemini(gemini_server).generate(request())
    assert (
        raised.value.code == "quota_exceeded" and raised.value.retryable and raised.value.retry_after == 1.0
    )
    assert gemini(gemini_server).generate(request()).data  # the next call succeeds
    assert gemini_server.calls == 2  # the SDK did not retry on its own


def test_gemini_500_retryable_and_bad_key_not(gemini_server):
    gemini_server.mode = "error_500"
    with pytest.raises(ProviderError) as raised:
        gemini(gemini_server).generate(request())
    assert raised.value.code == "provider_unavailable" and raised.value.retryable
    gemini_server.mode = "bad_key"
    with pytest.raises(ProviderError) as raised:
        gemini(gemini_server).generate(request())
    assert raised.value.code == "provider_unavailable" and not raised.value.retryable


def test_gemini_edit_sends_the_image_and_mask(gemini_server):
    source = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
    )
    gemini(gemini_server).generate(request(source_image=source, mask=source))
    parts = json.loads(gemini_server.requests[-1]["body"])["contents"][0]["parts"]
    assert "mask" in parts[0]["text"]
    # (this SDK version writes the part's mime type as mime_type inside inlineData)
    assert [p["inlineData"].get("mimeType") or p["inlineData"].get("mime_type") for p in parts[1:]] == [
        "image/png",
        "image/png",
    ]


def test_gemini_cancel_while_slow(gemini_server):
    gemini_server.mode = "slow"
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        gemini(gemini_server).generate(request(), is_cancelled=cancel.is_set)
    assert time.monotonic() - started < 1.5


def test_gemini_timeout(gemini_server):
    gemini_server.mode = "slow"
    with pytest.raises(ProviderError) as raised:
        gemini(gemini_server, timeout=1).generate(request())
    assert raised.value.code == "provider_timeout" and raised.value.retryable


# --- fal -------------------------------------------------------------------------------------------


def fal_request(aspect="1:1", **kwargs):
    return request(aspect, provider_model="fal-ai/flux-2/klein/9b/base", seed=7, **kwargs)


@pytest.mark.parametrize(
    ("aspect", "size"),
    [
        ("1:1", "square_hd"),
        ("16:9", "landscape_16_9"),
        ("3:4", "portrait_4_3"),
        ("21:9", {"width": 1568, "height": 672}),
    ],
)
def test_fal_success_and_size_mapping(fal_server, aspect, size):
    reports = []
    result = fal(fal_server).generate(fal_request(aspect), report=lambda **kw: reports.append(kw))
    assert result.data.startswith(b"\x89PNG") and result.seed == 7
    submit = fal_server.requests[0]
    assert submit["path"] == "/fal-ai/flux-2/klein/9b/base"
    assert submit["headers"]["Authorization"] == "Key fal-test-key"
    body = json.loads(submit["body"])
    assert body["image_size"] == size and body["seed"] == 7 and body["output_format"] == "png"
    positions = [r["queue_position"] for r in reports if r["stage"] == "queued"]
    assert positions[:3] == [2, 1, 0]
    assert [r["stage"] for r in reports][-1] == "generating"
    assert reports[0]["provider_request_id"]


@pytest.mark.parametrize("when", [0.0, 0.2])
def test_fal_cancel_while_queued_or_running(fal_server, when):
    fal_server.mode = "slow"
    cancel = threading.Event()
    threading.Timer(when, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        fal(fal_server).generate(fal_request(), is_cancelled=cancel.is_set)
    assert time.monotonic() - started < 1
    assert len(fal_server.cancelled) == 1


def test_fal_timeout_cancels_upstream(fal_server):
    fal_server.mode = "slow"
    with pytest.raises(ProviderError) as raised:
        fal(fal_server, timeout=0.3).generate(fal_request())
    assert raised.value.code == "provider_timeout"
    assert fal_server.cancelled


@pytest.mark.parametrize(
    ("mode", "code", "retryable"),
    [
        ("error_422", "invalid_request", False),
        ("policy", "content_blocked", False),
        ("error_503", "provider_unavailable", True),
        ("nsfw", "content_blocked", False),
        ("wrong_type", "internal", False),
        ("huge", "internal", False),
    ],
)
def test_fal_errors(fal_server, mode, code, retryable):
    fal_server.mode = mode
    with pytest.raises(ProviderError) as raised:
        fal(fal_server).generate(fal_request())
    assert (raised.value.code, raised.value.retryable) == (code, retryable)


def test_fal_data_uri_output(fal_server):
    fal_server.mode = "data_uri"
    assert fal(fal_server).generate(fal_request()).data.startswith(b"\x89PNG")


def test_fal_bad_key_is_not_retryable(fal_server):
    provider = FalProvider(
        api_key="nope",
        queue_base_url=fal_server.url,
        run_base_url=fal_server.url,
        timeout=5,
        poll_interval=0.01,
        max_download_bytes=10,
    )
    with pytest.raises(ProviderError) as raised:
        provider.generate(fal_request())
    assert raised.value.code == "provider_unavailable" and not raised.value.retryable


# --- end to end through the API and the worker --------------------------------------------------------


@pytest.fixture
def providers_configured(settings, gemini_server, fal_server, live_server):
    settings.GENERATION = {
        **settings.GENERATION,
        "GOOGLE_API_KEY": "g-test-key",
        "GEMINI_BASE_URL": gemini_server.url,
        "FAL_KEY": "fal-test-key",
        "FAL_QUEUE_BASE_URL": fal_server.url,
        "FAL_POLL_INTERVAL": 0.01,
        "PUBLIC_BASE_URL": live_server.url,
        "MAX_RETRIES": 2,
    }
    return gemini_server, fal_server


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("model", ["high-end", "draft"])
def test_both_providers_through_the_worker(alice_api, worker, providers_configured, model):
    models = {m["id"]: m for m in alice_api.get("/v1/apps/images/models").json()["models"]}
    assert all(m["available"] for m in models.values())
    task = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "fox", "model": model, "aspect_ratio": "16:9"}, format="json"
    ).json()
    done = wait_for_task(alice_api, task["task_id"])
    assert done["status"] == "completed", done
    assert float(done["cost_usd"]) > 0
    provenance = alice_api.get(f"/v1/embeds/{done['embed_id']}/provenance").json()["renditions"]
    expected = "gemini-3-pro-image-preview" if model == "high-end" else "fal-ai/flux-2/klein/9b/base"
    assert {r["ai_system"] for r in provenance.values()} == {expected}


@pytest.mark.django_db(transaction=True)
def test_gemini_rate_limit_is_retried_by_the_worker(alice_api, worker, providers_configured):
    gemini_server, _ = providers_configured
    gemini_server.mode = "rate_limited_once"
    task = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "fox", "model": "high-end"}, format="json"
    ).json()
    done = wait_for_task(alice_api, task["task_id"])
    assert done["status"] == "completed" and done["attempts"] == 2


@pytest.mark.django_db(transaction=True)
def test_persistent_500_fails_after_the_retry_budget(alice_api, worker, providers_configured):
    gemini_server, _ = providers_configured
    gemini_server.mode = "error_500"
    task = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "fox", "model": "high-end"}, format="json"
    ).json()
    done = wait_for_task(alice_api, task["task_id"])
    assert done["status"] == "failed" and done["error"]["code"] == "provider_unavailable"
    assert gemini_server.calls == 3


@pytest.mark.django_db(transaction=True)
def test_fal_cancel_through_the_api(alice_api, worker, providers_configured):
    _, fal_server = providers_configured
    fal_server.mode = "slow"
    task = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "fox", "model": "draft"}, format="json"
    ).json()
    deadline = time.monotonic() + 10
    while True:  # wait until fal has the job (our task is processing, fal reports its queue)
        state = alice_api.get(f"/v1/tasks/{task['task_id']}").json()
        if state["status"] == "processing" and state["stage"] in ("queued", "generating"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    alice_api.post(f"/v1/tasks/{task['task_id']}/cancel")
    done = wait_for_task(alice_api, task["task_id"], timeout=5)
    assert done["status"] == "cancelled"
    assert fal_server.cancelled


@pytest.mark.django_db(transaction=True)
def test_fal_edit_fetches_a_stripped_copy_by_signed_url(alice_api, worker, providers_configured):
    import requests

    _, fal_server = providers_configured
    source = alice_api.post("/v1/apps/images/generate", {"prompt": "fox"}, format="json").json()
    source = wait_for_task(alice_api, source["task_id"])
    task = alice_api.post(
        "/v1/apps/images/edit",
        {"embed_id": source["embed_id"], "prompt": "make it blue", "model": "draft"},
        format="json",
    )
    assert task.status_code == 202, task.content
    done = wait_for_task(alice_api, task.json()["task_id"])
    assert done["status"] == "completed", done
    fetched = fal_server.fetched_inputs[-1]
    assert fetched["status"] == 200 and fetched["body"].startswith(b"\x89PNG")
    assert b"iTXt" not in fetched["body"]  # no XMP from our own labelling either: pixels only
    assert requests.get(fetched["url"], timeout=5).status_code == 404  # revoked with the task
    submit = next(r for r in fal_server.requests if r["path"].endswith("/edit"))
    assert json.loads(submit["body"])["image_urls"] == [fetched["url"]]
