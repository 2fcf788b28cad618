"""Gemini and fal through the whole product: REST -> Dramatiq worker -> provider protocol server
-> renditions -> storage, with the worker's retries, cancellation and edits by signed URL."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from tests.conftest import wait_for_stored, wait_for_task
from tests.fakes.fal_server import FalServer
from tests.fakes.gemini_server import GeminiServer

pytestmark = pytest.mark.django_db(transaction=True)

MAX_RETRIES = 2


@pytest.fixture
def gemini_server():
    with GeminiServer() as running:
        yield running


@pytest.fixture
def fal_server():
    with FalServer() as running:
        yield running


@pytest.fixture
def providers(settings, gemini_server, fal_server, live_server):
    settings.GENERATION = {
        **settings.GENERATION,
        "GOOGLE_API_KEY": "g-test-key",
        "GEMINI_BASE_URL": gemini_server.url,
        "FAL_KEY": "fal-test-key",
        "FAL_QUEUE_BASE_URL": fal_server.url,
        "FAL_POLL_INTERVAL": 0.01,
        "PUBLIC_BASE_URL": live_server.url,
        "MAX_RETRIES": MAX_RETRIES,
        "RETRY_MIN_BACKOFF_MS": 50,
        "RETRY_MAX_BACKOFF_MS": 200,
    }
    return gemini_server, fal_server


def generate(client, **body) -> dict:
    response = client.post("/v1/apps/images/generate", {"prompt": "fox", **body}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


@pytest.mark.parametrize(
    ("model", "ai_system"),
    [("high-end", "gemini-3-pro-image"), ("draft", "fal-ai/flux-2/klein/9b/base")],
)
def test_each_provider_makes_a_labelled_embed(alice_api, worker, providers, s3_server, model, ai_system):
    models = {m["id"]: m for m in alice_api.get("/v1/apps/images/models").json()["models"]}
    assert all(m["available"] for m in models.values())
    done = wait_for_task(alice_api, generate(alice_api, model=model, aspect_ratio="16:9")["task_id"])
    assert done["status"] == "completed", done
    assert float(done["cost_usd"]) > 0 and done["attempts"] == 1
    assert set(done["files"]) == {"original", "full", "preview"}
    provenance = alice_api.get(f"/v1/embeds/{done['embed_id']}/provenance").json()["renditions"]
    assert {r["ai_system"] for r in provenance.values()} == {ai_system}
    wait_for_stored(s3_server, 3)  # the staging copy of the provider's answer is gone


def test_a_rate_limit_is_retried_after_the_providers_delay(alice_api, worker, providers):
    gemini_server, _ = providers
    gemini_server.script(GeminiServer.rate_limited("1s"))
    done = wait_for_task(alice_api, generate(alice_api, model="high-end")["task_id"])
    assert done["status"] == "completed" and done["attempts"] == 2
    first, second = gemini_server.calls
    assert second["at"] - first["at"] >= 1.0  # RetryInfo's delay, not our 50 ms backoff


def test_a_persistent_500_fails_after_the_retry_budget(alice_api, worker, providers, s3_server):
    gemini_server, _ = providers
    gemini_server.default = GeminiServer.error(500)
    done = wait_for_task(alice_api, generate(alice_api, model="high-end")["task_id"])
    assert done["status"] == "failed" and done["error"]["code"] == "provider_unavailable"
    assert len(gemini_server.calls) == MAX_RETRIES + 1
    assert alice_api.get(f"/v1/embeds/{done['embed_id']}/content").json()["status"] == "error"
    wait_for_stored(s3_server, 0)


def test_a_blocked_prompt_fails_at_once_and_stores_nothing(alice_api, worker, providers, s3_server):
    gemini_server, _ = providers
    gemini_server.script(GeminiServer.prompt_block("SAFETY"))
    done = wait_for_task(alice_api, generate(alice_api, model="high-end")["task_id"])
    assert done["status"] == "failed" and done["attempts"] == 1
    assert done["error"]["code"] == "content_blocked" and "SAFETY" in done["error"]["message"]
    wait_for_stored(s3_server, 0)


@pytest.mark.parametrize("hold", ["queue", "running"])
def test_cancel_reaches_fal(alice_api, worker, providers, s3_server, hold):
    _, fal_server = providers
    fal_server.hold = hold
    task = generate(alice_api, model="draft")
    deadline = time.monotonic() + 10
    stage = "queued" if hold == "queue" else "generating"
    while True:  # fal has the job: our task is processing and fal reports its queue or progress
        state = alice_api.get(f"/v1/tasks/{task['task_id']}").json()
        if state["status"] == "processing" and state["stage"] == stage and fal_server.jobs:
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    if hold == "queue":
        assert state["queue_position"] >= 1
    cancelled_at = time.monotonic()
    assert alice_api.post(f"/v1/tasks/{task['task_id']}/cancel").status_code == 200
    done = wait_for_task(alice_api, task["task_id"], timeout=5)
    assert done["status"] == "cancelled" and time.monotonic() - cancelled_at < 1.5
    assert fal_server.cancelled == list(fal_server.jobs)
    wait_for_stored(s3_server, 0)


def test_a_fal_edit_fetches_a_stripped_copy_by_a_signed_url(alice_api, worker, providers):
    _, fal_server = providers
    source = wait_for_task(alice_api, generate(alice_api)["task_id"])
    response = alice_api.post(
        "/v1/apps/images/edit",
        {"embed_id": source["embed_id"], "prompt": "make it blue", "model": "draft"},
        format="json",
    )
    assert response.status_code == 202, response.content
    done = wait_for_task(alice_api, response.json()["task_id"])
    assert done["status"] == "completed", done
    (fetched,) = fal_server.fetched
    assert fetched["status"] == 200 and fetched["body"].startswith(b"\x89PNG")
    assert b"iTXt" not in fetched["body"] and b"c2pa" not in fetched["body"]  # pixels only
    assert requests.get(fetched["url"], timeout=5).status_code == 404  # revoked with the task
    (submit,) = fal_server.submitted()
    assert submit["path"].endswith("/edit") and submit["json"]["image_urls"] == [fetched["url"]]
    provenance = alice_api.get(f"/v1/embeds/{done['embed_id']}/provenance").json()["renditions"]
    for report in provenance.values():
        assert report["ai_system"] == "fal-ai/flux-2/klein/9b/base"
        assert [a["action"] for a in report["actions"]] == ["c2pa.created", "c2pa.edited"]


def test_the_models_own_words_stay_encrypted(alice_api, worker, providers):
    from generation.models import Task

    gemini_server, _ = providers
    said = "I can't draw a purple walrus, but I can describe one."
    gemini_server.script(GeminiServer.output_block("NO_IMAGE", text=said))
    done = wait_for_task(
        alice_api, generate(alice_api, prompt="a purple walrus", model="high-end")["task_id"]
    )
    assert done["status"] == "failed" and done["error"]["code"] == "invalid_request"
    assert "walrus" not in done["error"]["message"]
    row = Task.objects.get(pk=done["task_id"])
    assert "walrus" not in row.error_message and "walrus" not in str(row.usage)
    content = alice_api.get(f"/v1/embeds/{done['embed_id']}/content").json()
    assert content["error"] == {
        "code": "invalid_request",
        "message": done["error"]["message"],
        "detail": said,
    }


# --- exact masked edits ---------------------------------------------------------------------------


def _noise_png(size: tuple[int, int]) -> bytes:
    import io
    import random

    from PIL import Image

    rng = random.Random(11)
    image = Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _pixels(client, embed_id: str):
    import io

    from PIL import Image

    response = client.get(f"/v1/embeds/{embed_id}/file?format=original")
    assert response.status_code == 200
    image = Image.open(
        io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
    )
    image.load()
    return image.convert("RGB")


@pytest.mark.parametrize(
    ("model", "answer_color"),
    [("offline", None), ("high-end", (30, 120, 220)), ("draft", (240, 160, 30))],
)
def test_a_masked_edit_keeps_every_pixel_outside_the_mask(alice_api, worker, providers, model, answer_color):
    """The providers answer at their own size (the doubles: 1/16 of their 4:3 size, 72×54 or 64×48)
    and honour no mask; the original rendition is still the source outside the mask, byte for byte."""
    import base64
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageChops, ImageDraw

    from embeds.imaging.compositing import EDGE

    size, box = (320, 240), (200, 20, 299, 99)
    upload = alice_api.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("photo.png", _noise_png(size))}, format="multipart"
    )
    assert upload.status_code == 201, upload.content
    source_id = upload.json()["embed_id"]
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    response = alice_api.post(
        "/v1/apps/images/edit",
        {
            "embed_id": source_id,
            "prompt": "make the sky violet",
            "model": model,
            "mask": base64.b64encode(buffer.getvalue()).decode(),
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    done = wait_for_task(alice_api, response.json()["task_id"])
    assert done["status"] == "completed", done

    source, edited = _pixels(alice_api, source_id), _pixels(alice_api, done["embed_id"])
    assert edited.size == source.size
    kept = Image.new("L", size, 255)
    left, top, right, bottom = box
    ImageDraw.Draw(kept).rectangle((left - EDGE, top - EDGE, right + EDGE, bottom + EDGE), fill=0)
    difference = ImageChops.difference(edited, source)
    assert Image.composite(difference, Image.new("RGB", size), kept).getbbox() is None
    inside = edited.crop((left, top, right + 1, bottom + 1))
    if answer_color is None:  # the offline generator recolours the area
        assert ImageChops.difference(inside, source.crop((left, top, right + 1, bottom + 1))).getbbox()
    else:
        assert inside.getcolors() == [(inside.width * inside.height, answer_color)]
    provenance = alice_api.get(f"/v1/embeds/{done['embed_id']}/provenance").json()["renditions"]
    assert "c2pa.edited" in [a["action"] for a in provenance["original"]["actions"]]
    # the mask is kept, encrypted, so that "Regenerate" can redo the same edit
    from embeds import sealing
    from embeds.models import Embed

    stored_mask = sealing.open_embed(Embed.objects.get(pk=done["embed_id"])).load_file("mask")
    assert stored_mask == buffer.getvalue() or Image.open(io.BytesIO(stored_mask)).size == size


def test_an_exhausted_fal_balance_fails_at_once_telling_to_top_up(alice_api, worker, providers, s3_server):
    _, fal_server = providers
    fal_server.balance_locked = True
    done = wait_for_task(alice_api, generate(alice_api, model="draft")["task_id"])
    assert done["status"] == "failed" and done["attempts"] == 1  # not retried: waiting never helps
    assert done["error"]["code"] == "quota_exceeded" and "top up" in done["error"]["message"]
    wait_for_stored(s3_server, 0)


def test_a_fal_content_policy_failure_read_from_the_response_url_is_content_blocked(
    alice_api, worker, providers
):
    _, fal_server = providers
    fal_server.result_error = (
        422,
        {"detail": [{"loc": ["body", "prompt"], "msg": "Flagged.", "type": "content_policy_violation"}]},
        {},
    )
    done = wait_for_task(alice_api, generate(alice_api, model="draft")["task_id"])
    assert done["status"] == "failed" and done["attempts"] == 1
    assert done["error"]["code"] == "content_blocked"


def test_a_gemini_glitch_is_called_once_more_within_the_attempt(alice_api, worker, providers):
    gemini_server, _ = providers
    gemini_server.script(GeminiServer.output_block("MALFORMED_RESPONSE"), GeminiServer.output_block("OTHER"))
    done = wait_for_task(alice_api, generate(alice_api, model="high-end")["task_id"])
    assert done["status"] == "failed" and done["attempts"] == 1 and len(gemini_server.calls) == 2
    assert done["error"]["code"] == "provider_unavailable" and "OTHER" in done["error"]["message"]


# -- references ---------------------------------------------------------------------------------


def _exif_tags(data: bytes, tmp_path) -> dict:
    """exiftool's reading of ``data`` (an independent reader of our labels)."""
    import json
    import subprocess

    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)[0]


def _references(client, count: int) -> list[str]:
    """``count`` finished images of the user's, each labelled and signed (with metadata to strip)."""
    tasks = [generate(client, prompt=f"reference {index}", seed=index)["task_id"] for index in range(count)]
    return [wait_for_task(client, task)["embed_id"] for task in tasks]


def _assert_pixels_only(png: bytes) -> None:
    assert png.startswith(b"\x89PNG")
    for marker in (b"iTXt", b"tEXt", b"eXIf", b"c2pa", b"caBX", b"Iptc4xmpExt", b"OpenMates"):
        assert marker not in png, marker


def _assert_composite_with_ingredients(client, embed_id: str, references: list[str], tmp_path) -> None:
    for variant in ("original", "full", "preview"):
        data = client.get(f"/v1/embeds/{embed_id}/file?format={variant}").content
        tags = _exif_tags(data, tmp_path)
        assert tags["XMP-iptcExt:DigitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia"), (
            variant
        )
    report = client.get(f"/v1/embeds/{embed_id}/provenance").json()["renditions"]
    for variant, one in report.items():
        assert one["state"] == "Trusted", (variant, one)
        titles = [i["title"] for i in one["ingredients"]]
        assert titles == [f"Reference image {n}" for n in range(1, len(references) + 1)], variant
        assert all(i["relationship"] == "inputTo" and i["manifest"] for i in one["ingredients"]), one
        assert one["digital_source_type"].endswith("/compositeWithTrainedAlgorithmicMedia")


def test_gemini_gets_the_references_as_image_parts_stripped_of_metadata(
    alice_api, worker, providers, tmp_path
):
    gemini_server, _ = providers
    references = _references(alice_api, 3)
    done = wait_for_task(
        alice_api,
        generate(alice_api, model="high-end", prompt="a cat", reference_embed_ids=references)["task_id"],
    )
    assert done["status"] == "completed", done
    (call,) = gemini_server.calls
    parts = call["json"]["contents"][0]["parts"]
    assert "The images are references to draw on." in parts[0]["text"]
    images = [base64.urlsafe_b64decode(p["inlineData"]["data"]) for p in parts if "inlineData" in p]
    assert len(images) == 3
    for image in images:
        _assert_pixels_only(image)
    _assert_composite_with_ingredients(alice_api, done["embed_id"], references, tmp_path)


def test_fal_gets_the_references_in_image_urls_stripped_of_metadata(alice_api, worker, providers, tmp_path):
    _, fal_server = providers
    references = _references(alice_api, 2)
    done = wait_for_task(
        alice_api,
        generate(alice_api, model="draft", prompt="a dog", reference_embed_ids=references)["task_id"],
    )
    assert done["status"] == "completed", done
    (submit,) = fal_server.submitted()
    assert submit["path"].endswith("/edit") and len(submit["json"]["image_urls"]) == 2
    assert [f["url"] for f in fal_server.fetched] == submit["json"]["image_urls"]
    for fetched in fal_server.fetched:
        _assert_pixels_only(fetched["body"])
    _assert_composite_with_ingredients(alice_api, done["embed_id"], references, tmp_path)


def test_a_fal_edit_sends_its_source_then_its_references(alice_api, worker, providers):
    _, fal_server = providers
    source, reference = _references(alice_api, 2)
    response = alice_api.post(
        "/v1/apps/images/edit",
        {"embed_id": source, "prompt": "in this style", "model": "draft", "reference_embed_ids": [reference]},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert wait_for_task(alice_api, response.json()["task_id"])["status"] == "completed"
    (submit,) = fal_server.submitted()
    first, second = submit["json"]["image_urls"]
    assert first.startswith("http") and second.startswith("data:image/png;base64,")
    # The klein edit endpoint takes 4 images: the source and 3 references.
    too_many = alice_api.post(
        "/v1/apps/images/edit",
        {
            "embed_id": source,
            "prompt": "x",
            "model": "draft",
            "reference_embed_ids": [reference] * 1 + _references(alice_api, 3),
        },
        format="json",
    )
    assert too_many.status_code == 400
    assert too_many.json()["error"] == {
        "code": "invalid_value",
        "message": "The model fal-ai/flux-2/klein/9b/base takes at most 3 reference images "
        "with the image being edited.",
        "field": "reference_embed_ids",
    }
