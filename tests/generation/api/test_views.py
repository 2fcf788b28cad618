"""The REST flow end to end on the full stack: generate -> worker -> three formats -> download."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from embeds.models import Embed
from generation.models import Task
from tests.conftest import wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)


def _generate(client, **body):
    body.setdefault("prompt", "A futuristic cityscape at sunset")
    return client.post("/v1/apps/images/generate", body, format="json")


def test_generate_poll_download_every_format(alice_api, worker):
    response = _generate(alice_api, aspect_ratio="16:9", seed=7)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["embed_status"] == "processing"
    assert body["estimated_finish_at"] is not None and body["eta_seconds"] is not None

    done = wait_for_task(alice_api, body["task_id"])
    assert done["status"] == "completed", done
    assert done["progress"] == 100
    assert done["embed_id"] == body["embed_id"]
    files = done["files"]
    assert set(files) == {"original", "full", "preview"}
    assert files["original"]["format"] == "png"
    assert files["full"]["format"] == files["preview"]["format"] == "webp"
    width, height = files["original"]["width"], files["original"]["height"]
    assert abs(width / height / (16 / 9) - 1) < 0.02
    assert (files["full"]["width"], files["full"]["height"]) == (width, height)
    assert files["preview"]["width"] <= 600 and files["preview"]["height"] <= 400
    assert max(files["preview"]["width"] / 600, files["preview"]["height"] / 400) == pytest.approx(
        1, abs=0.01
    )

    for variant, mime, magic in (
        ("original", "image/png", b"\x89PNG"),
        ("full", "image/webp", b"RIFF"),
        ("preview", "image/webp", b"RIFF"),
    ):
        file_response = alice_api.get(f"/v1/embeds/{body['embed_id']}/file?format={variant}")
        assert file_response.status_code == 200
        assert file_response["Content-Type"] == mime
        data = file_response.content
        assert data.startswith(magic)
        assert int(file_response["Content-Length"]) == len(data) == files[variant]["size_bytes"]
        assert "immutable" in file_response["Cache-Control"] and "private" in file_response["Cache-Control"]
        image = Image.open(io.BytesIO(data))
        assert image.size == (files[variant]["width"], files[variant]["height"])
        etag = file_response["ETag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        cached = alice_api.get(
            f"/v1/embeds/{body['embed_id']}/file?format={variant}", HTTP_IF_NONE_MATCH=etag
        )
        assert cached.status_code == 304
        assert cached.content == b"" and "Content-Type" not in cached
        weak = alice_api.get(
            f"/v1/embeds/{body['embed_id']}/file?format={variant}", HTTP_IF_NONE_MATCH=f'"other", W/{etag}'
        )
        assert weak.status_code == 304  # If-None-Match compares weakly

    content = alice_api.get(f"/v1/embeds/{body['embed_id']}/content").json()
    assert content["prompt"] == "A futuristic cityscape at sunset"
    assert content["model"] == "local/procedural"
    assert content["aspect_ratio"] == "16:9"
    assert content["seed"] == 7
    assert content["encryption_mode"] == "vault"
    assert content["status"] == "finished"
    assert content["generated_at"]
    assert content["files"] == files
    serialized = str(content)
    for secret in ("wrapped", "nonce", "s3_key", "key", "staging"):
        assert secret not in {k.lower() for k in content}, secret
    assert "aes" not in serialized.lower()


def test_default_body_is_square_and_default_model(alice_api, worker):
    body = _generate(alice_api).json()
    done = wait_for_task(alice_api, body["task_id"])
    assert done["model"] == "local/procedural"
    assert done["files"]["original"]["width"] == done["files"]["original"]["height"]


def test_same_seed_same_pixels(alice_api, worker):
    first = wait_for_task(alice_api, _generate(alice_api, seed=42, prompt="red fox").json()["task_id"])
    second = wait_for_task(alice_api, _generate(alice_api, seed=42, prompt="red fox").json()["task_id"])
    a = alice_api.get(f"/v1/embeds/{first['embed_id']}/file?format=full")
    b = alice_api.get(f"/v1/embeds/{second['embed_id']}/file?format=full")
    pixels_a = Image.open(io.BytesIO(a.content)).convert("RGB").tobytes()
    pixels_b = Image.open(io.BytesIO(b.content)).convert("RGB").tobytes()
    assert pixels_a == pixels_b


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "missing_field", "prompt"),
        ({"prompt": ""}, "invalid_value", "prompt"),
        ({"prompt": "   "}, "invalid_value", "prompt"),
        ({"prompt": "x" * 4001}, "value_too_long", "prompt"),
        ({"prompt": "cat", "aspect_ratio": "7:3"}, "invalid_value", "aspect_ratio"),
        ({"prompt": "cat", "model": "dall-e-9"}, "invalid_value", "model"),
        ({"prompt": "cat", "colour": "red"}, "unknown_field", "colour"),
        ({"prompt": ["a", "list"]}, "invalid_value", "prompt"),
        ({"prompt": 12}, "invalid_value", "prompt"),  # not coerced to "12"
        ({"prompt": "cat", "seed": -1}, "invalid_value", "seed"),
        ({"prompt": "cat", "seed": "12"}, "invalid_value", "seed"),
        ({"prompt": "cat", "seed": True}, "invalid_value", "seed"),
        ({"prompt": "cat", "image_size": "4K"}, "invalid_value", "image_size"),
        ({"prompt": "cat", "n": 0}, "invalid_value", "n"),
        ({"prompt": "cat", "n": 5}, "invalid_value", "n"),
        ({"prompt": "cat", "n": "2"}, "invalid_value", "n"),
        ({"prompt": "cat", "n": True}, "invalid_value", "n"),
        ({"prompt": "cat", "n": 1.5}, "invalid_value", "n"),
    ],
)
def test_bad_generate_input_is_a_clear_400(alice_api, body, code, field):
    response = alice_api.post("/v1/apps/images/generate", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == field
    assert error["code"] == code
    assert error["message"]
    assert not Task.objects.exists() and not Embed.objects.exists()


def test_bad_json_and_non_object_bodies(alice_api):
    response = alice_api.post("/v1/apps/images/generate", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    response = alice_api.post("/v1/apps/images/generate", "[1,2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    broken = alice_api.post(
        "/v1/embeds/upload", b"--x\r\nnot a part", content_type="multipart/form-data; boundary=x"
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] in {"invalid_body", "missing_field"}


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/apps/images/models/", "/v1/embeds/x/y/z"])
def test_unknown_api_paths_answer_the_json_error(alice_api, path):
    response = alice_api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_api_docs_are_served_without_a_cdn(client):
    page = client.get("/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "cdn." not in html and "googleapis" not in html
    assert client.get("/v1/redoc").status_code == 404  # its bundle calls third parties: not served


def test_unavailable_provider_is_refused_before_queueing(alice_api):
    response = _generate(alice_api, model="high-end")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert not Task.objects.exists()


def test_auth_required_and_bad_keys_rejected(client, alice):
    response = client.post("/v1/apps/images/generate", {"prompt": "x"}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"] == "Bearer"
    response = client.get(
        "/v1/tasks/00000000-0000-0000-0000-000000000000", HTTP_AUTHORIZATION="Bearer omi_nope_nope"
    )
    assert response.status_code == 401


def test_revoked_key_stops_working(alice):
    from rest_framework.test import APIClient

    from accounts.api_keys import do_create_api_key, do_revoke_api_key

    created = do_create_api_key(alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.raw_key}")
    assert client.get("/v1/apps/images/models").status_code == 200
    do_revoke_api_key(created.api_key)
    assert client.get("/v1/apps/images/models").status_code == 401


def test_session_cookie_needs_csrf_for_posts(alice):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get("/v1/apps/images/models").status_code == 200
    response = browser.post("/v1/apps/images/generate", {"prompt": "x"}, content_type="application/json")
    assert response.status_code == 403


def test_other_users_ids_answer_404_everywhere(alice_api, bob_api, worker):
    body = _generate(alice_api).json()
    wait_for_task(alice_api, body["task_id"])
    embed, task = body["embed_id"], body["task_id"]
    for method, url in (
        ("get", f"/v1/tasks/{task}"),
        ("post", f"/v1/tasks/{task}/cancel"),
        ("get", f"/v1/embeds/{embed}/file?format=preview"),
        ("get", f"/v1/embeds/{embed}/file?format=original"),
        ("get", f"/v1/embeds/{embed}/content"),
        ("get", f"/v1/embeds/{embed}/provenance"),
        ("delete", f"/v1/embeds/{embed}"),
    ):
        response = getattr(bob_api, method)(url)
        assert response.status_code == 404, (method, url, response.content)
        assert response.json()["error"]["code"] == "not_found"
    response = bob_api.post(
        f"/v1/embeds/{embed}/crop", {"x": 0, "y": 0, "width": 10, "height": 10}, format="json"
    )
    assert response.status_code == 404
    response = bob_api.post(
        "/v1/apps/images/edit", {"embed_id": embed, "prompt": "make it blue"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "embed_id"
    # ...and alice still has everything.
    assert alice_api.get(f"/v1/embeds/{embed}/content").status_code == 200


def test_malformed_and_unknown_ids_are_404(alice_api):
    for url in (
        "/v1/tasks/not-a-uuid",
        "/v1/tasks/00000000-0000-0000-0000-000000000001",
        "/v1/embeds/nope/content",
        "/v1/embeds/00000000-0000-0000-0000-000000000001/file",
    ):
        response = alice_api.get(url)
        assert response.status_code == 404, url


def test_file_of_unfinished_embed_is_409_and_unknown_format_400(alice_api, broker):
    body = _generate(alice_api).json()  # no worker: stays queued
    response = alice_api.get(f"/v1/embeds/{body['embed_id']}/file?format=preview")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "embed_not_ready"
    response = alice_api.get(f"/v1/embeds/{body['embed_id']}/file?format=thumbnail")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "format"


def test_provider_failure_ends_task_failed_and_embed_error(alice_api, worker):
    body = _generate(alice_api, prompt="a cat [[fail:content_blocked]]").json()
    done = wait_for_task(alice_api, body["task_id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "content_blocked"
    assert done["embed_status"] == "error"
    assert Embed.objects.get(pk=body["embed_id"]).status == "error"
    assert alice_api.get(f"/v1/embeds/{body['embed_id']}/file").status_code == 409


def test_transient_provider_failure_is_retried_then_fails_with_its_code(alice_api, worker, settings):
    settings.GENERATION = {**settings.GENERATION, "MAX_RETRIES": 2}
    body = _generate(alice_api, prompt="a cat [[fail:provider_unavailable]]").json()
    done = wait_for_task(alice_api, body["task_id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "provider_unavailable"
    assert done["attempts"] == 3


def test_cancel_queued_task_ends_at_once(alice_api, broker):
    body = _generate(alice_api).json()
    response = alice_api.post(f"/v1/tasks/{body['task_id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["error"]["code"] == "cancelled"
    assert Embed.objects.get(pk=body["embed_id"]).status == "error"


def test_cancel_running_task_stops_it(alice_api, worker):
    body = _generate(alice_api, prompt="slow [[sleep:20]]").json()
    task_id = body["task_id"]
    import time

    deadline = time.monotonic() + 10
    while alice_api.get(f"/v1/tasks/{task_id}").json()["status"] != "processing":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    alice_api.post(f"/v1/tasks/{task_id}/cancel")
    done = wait_for_task(alice_api, task_id, timeout=5)
    assert done["status"] == "cancelled"


def test_idempotency_key_returns_the_same_task(alice_api, broker):
    first = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1"
    )
    second = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1"
    )
    assert first.status_code == 202 and second.status_code == 200
    assert first.json()["task_id"] == second.json()["task_id"]
    assert Task.objects.count() == 1
    # the same request named by a model alias is still the same request
    alias = alice_api.post(
        "/v1/apps/images/generate",
        {"prompt": "x", "model": "offline"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="abc-1",
    )
    assert alias.status_code == 200 and alias.json()["task_id"] == first.json()["task_id"]
    reused = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "y"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1"
    )
    assert reused.status_code == 422
    assert reused.json()["error"] == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was already used with a different request in the last 24 hours.",
        "field": "Idempotency-Key",
    }
    fingerprint = Task.objects.get().request_fingerprint
    assert (
        Task.objects.count() == 1 and len(fingerprint) == 64 and int(fingerprint, 16)
    )  # a hash, not the body


def test_idempotency_key_is_stored_as_a_keyed_hash(alice_api, bob_api, broker):
    raw = "order-7f3a-secret-ish"
    first = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "x"}, format="json", HTTP_IDEMPOTENCY_KEY=raw
    )
    stored = Task.objects.get().idempotency_key
    assert stored != raw and raw not in stored and len(stored) == 64 and int(stored, 16)
    assert not Task.objects.filter(idempotency_key=raw).exists()
    again = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "x"}, format="json", HTTP_IDEMPOTENCY_KEY=raw
    )
    assert again.status_code == 200 and again.json()["task_id"] == first.json()["task_id"]
    # another user's same key names another request
    other = bob_api.post("/v1/apps/images/generate", {"prompt": "x"}, format="json", HTTP_IDEMPOTENCY_KEY=raw)
    assert other.status_code == 202 and other.json()["task_id"] != first.json()["task_id"]


def test_models_endpoint_lists_unavailable_providers(alice_api):
    body = alice_api.get("/v1/apps/images/models").json()
    by_id = {m["id"]: m for m in body["models"]}
    assert body["default"] == "local/procedural"
    assert by_id["local/procedural"]["available"] is True
    assert by_id["google/gemini-3-pro-image"]["available"] is False
    assert "draft" in by_id["fal-ai/flux-2/klein/9b/base"]["aliases"]


def test_rate_limit_and_concurrency_cap_answer_429_with_retry_after(alice_api, broker, settings):
    settings.GENERATION = {**settings.GENERATION, "MAX_CONCURRENT_PER_USER": 2}
    for _ in range(2):
        assert _generate(alice_api).status_code == 202
    response = _generate(alice_api)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_active_tasks"
    assert int(response["Retry-After"]) > 0
    settings.GENERATION = {**settings.GENERATION, "MAX_CONCURRENT_PER_USER": 100, "RATE_LIMIT_PER_MINUTE": 3}
    assert _generate(alice_api).status_code == 202
    response = _generate(alice_api)
    assert response.status_code == 429 and response.json()["error"]["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 61
    assert Task.objects.count() == 3


def test_cost_is_recorded_in_task_and_content(alice_api, worker):
    body = _generate(alice_api).json()
    assert body["cost_usd"] == "0.0000"  # the 202 says it the way every later read does
    done = wait_for_task(alice_api, body["task_id"])
    assert done["cost_usd"] == "0.0000"
    assert alice_api.get(f"/v1/embeds/{body['embed_id']}/content").json()["cost_usd"] == "0.0000"


def test_an_edit_mask_is_stored_as_pixels_only(alice_api, worker):
    import base64

    from PIL import PngImagePlugin

    from embeds import sealing
    from embeds.imaging.containers import png_chunks

    source = wait_for_task(alice_api, _generate(alice_api, prompt="harbour").json()["task_id"])
    width, height = source["files"]["original"]["width"], source["files"]["original"]["height"]
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "GPS 48.8584 N 2.2945 E, camera serial 123456")
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, "PNG", pnginfo=info)
    mask = base64.b64encode(buffer.getvalue()).decode()

    def edit(mask_value):
        body = {"embed_id": source["embed_id"], "prompt": "make it red [[sleep:5]]", "mask": mask_value}
        return alice_api.post("/v1/apps/images/edit", body, format="json")

    wrong_size = io.BytesIO()
    Image.new("L", (width // 2, height), 255).save(wrong_size, "PNG")
    for bad in (
        "not base64!",
        base64.b64encode(b"GIF89a").decode(),
        base64.b64encode(wrong_size.getvalue()).decode(),
    ):
        response = edit(bad)
        assert response.status_code == 400 and response.json()["error"]["field"] == "mask", response.content
    response = edit(mask)
    assert response.status_code == 202, response.content
    embed = Embed.objects.get(pk=response.json()["embed_id"])
    stored = sealing.open_embed(embed).load_file("mask")
    assert b"GPS" not in stored and b"serial" not in stored
    assert {kind for kind, _ in png_chunks(stored)} <= {b"IHDR", b"IDAT", b"IEND"}
    alice_api.post(f"/v1/tasks/{response.json()['task_id']}/cancel")


def test_a_slow_job_outliving_the_stale_deadline_is_not_reaped(alice_api, worker, settings):
    """A provider that takes far longer than STALE_TASK_SECONDS still finishes: its heartbeat
    keeps the reaper off it (the real deadline is per model: the provider's own timeout)."""
    import time

    from generation.maintenance import reap_stale_tasks

    settings.GENERATION = {**settings.GENERATION, "STALE_TASK_SECONDS": 1.5}
    task = _generate(alice_api, prompt="slow but fine [[sleep:5]]").json()
    for _ in range(6):  # the reaper runs several times during the call
        time.sleep(0.6)
        assert reap_stale_tasks() == {"requeued": 0, "failed": 0, "resent": 0, "swept": 0}
    done = wait_for_task(alice_api, task["task_id"])
    assert done["status"] == "completed" and done["attempts"] == 1


def test_report_regenerates_an_edit_as_the_same_edit(alice_api, worker):
    """ "Report problem / Regenerate" makes the image again from its own request: an edit is
    redone on the same source with the same prompt and mask, not turned into a generation."""
    import base64

    from embeds import sealing
    from generation.models import ImageReport

    source = wait_for_task(alice_api, _generate(alice_api, prompt="harbour").json()["task_id"])
    width, height = source["files"]["original"]["width"], source["files"]["original"]["height"]
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, "PNG")
    body = {
        "embed_id": source["embed_id"],
        "prompt": "make the sky violet",
        "mask": base64.b64encode(buffer.getvalue()).decode(),
    }
    edit = wait_for_task(
        alice_api, alice_api.post("/v1/apps/images/edit", body, format="json").json()["task_id"]
    )
    assert edit["status"] == "completed"

    response = alice_api.post(
        f"/v1/embeds/{edit['embed_id']}/report", {"reason": "artifacts", "regenerate": True}, format="json"
    )
    assert response.status_code == 202, response.content
    again = wait_for_task(alice_api, response.json()["task_id"])
    assert again["kind"] == "edit" and again["status"] == "completed"
    content = alice_api.get(f"/v1/embeds/{again['embed_id']}/content").json()
    assert content["source"] == "edit" and content["derived_from"] == source["embed_id"]
    assert content["prompt"] == "make the sky violet"
    mask = sealing.open_embed(Embed.objects.get(pk=again["embed_id"])).load_file("mask")
    assert mask == sealing.open_embed(Embed.objects.get(pk=edit["embed_id"])).load_file("mask")
    assert ImageReport.objects.get().regenerated_task_id is not None


def test_report_input_and_what_cannot_be_regenerated(alice_api, worker):
    from generation.models import ImageReport

    done = wait_for_task(alice_api, _generate(alice_api, prompt="harbour").json()["task_id"])
    url = f"/v1/embeds/{done['embed_id']}/report"
    for body, code, field in (
        ({}, "missing_field", "reason"),
        ({"reason": "boring"}, "invalid_value", "reason"),
        ({"reason": "other", "regenerate": "yes"}, "invalid_value", "regenerate"),
    ):
        response = alice_api.post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, field)
    crop = alice_api.post(
        f"/v1/embeds/{done['embed_id']}/crop", {"x": 0, "y": 0, "width": 64, "height": 64}, format="json"
    ).json()
    response = alice_api.post(
        f"/v1/embeds/{crop['embed_id']}/report", {"reason": "artifacts", "regenerate": True}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "regenerate"
    assert not ImageReport.objects.exists()  # a refused request records nothing
    assert alice_api.post(url, {"reason": "other"}, format="json").status_code == 204
    assert ImageReport.objects.get().reason == "other"


# -- variants (n) ------------------------------------------------------------------------------


def _pixels(client, embed_id: str) -> bytes:
    data = client.get(f"/v1/embeds/{embed_id}/file?format=original").content
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def test_one_image_answers_as_before_and_lists_itself_as_the_only_variant(alice_api, broker):
    body = _generate(alice_api).json()
    assert body["variants"] == [
        {"task_id": body["task_id"], "embed_id": body["embed_id"], "seed": None, "status": "queued"}
    ]
    assert Task.objects.count() == 1


def test_variants_are_their_own_embeds_tasks_and_seeds_with_different_pixels(alice_api, worker):
    response = _generate(alice_api, prompt="a lighthouse at dawn", seed=10, n=4)
    assert response.status_code == 202, response.content
    body = response.json()
    variants = body["variants"]
    assert [v["seed"] for v in variants] == [10, 11, 12, 13]
    assert (body["task_id"], body["embed_id"]) == (variants[0]["task_id"], variants[0]["embed_id"])
    assert len({v["task_id"] for v in variants}) == len({v["embed_id"] for v in variants}) == 4
    assert Task.objects.count() == Embed.objects.count() == 4
    for variant in variants:
        done = wait_for_task(alice_api, variant["task_id"])
        assert done["status"] == "completed" and done["embed_id"] == variant["embed_id"]
        content = alice_api.get(f"/v1/embeds/{variant['embed_id']}/content").json()
        assert content["seed"] == variant["seed"]
    pixels = [_pixels(alice_api, v["embed_id"]) for v in variants]
    assert len(set(pixels)) == 4  # four genuinely different pictures


def test_variants_without_a_seed_draw_different_seeds(alice_api, worker):
    body = _generate(alice_api, prompt="red fox", n=2).json()
    seeds = [v["seed"] for v in body["variants"]]
    assert None not in seeds and seeds[0] != seeds[1]
    for variant in body["variants"]:
        assert wait_for_task(alice_api, variant["task_id"])["status"] == "completed"
    first, second = (_pixels(alice_api, v["embed_id"]) for v in body["variants"])
    assert first != second


def test_one_variant_failing_or_cancelled_leaves_the_others(alice_api, worker):
    body = _generate(alice_api, prompt="a cat [[fail:content_blocked@seed=21]]", seed=20, n=3).json()
    ended = [wait_for_task(alice_api, v["task_id"]) for v in body["variants"]]
    assert [t["status"] for t in ended] == ["completed", "failed", "completed"]
    assert ended[1]["error"]["code"] == "content_blocked" and ended[1]["embed_status"] == "error"
    assert [t["embed_status"] for t in ended] == ["finished", "error", "finished"]

    # Reported and made again on its own: one new task, from the variant's own seed.
    regenerated = alice_api.post(
        f"/v1/embeds/{body['variants'][2]['embed_id']}/report",
        {"reason": "artifacts", "regenerate": True},
        format="json",
    )
    assert regenerated.status_code == 202
    again = wait_for_task(alice_api, regenerated.json()["task_id"])
    assert again["status"] == "completed"
    assert alice_api.get(f"/v1/embeds/{again['embed_id']}/content").json()["seed"] == 22


def test_a_failed_variant_is_retried_on_its_own(alice_api, worker, settings):
    from generation import lifecycle

    body = _generate(alice_api, prompt="a boat [[fail:internal@seed=6]]", seed=5, n=2).json()
    first, second = (wait_for_task(alice_api, v["task_id"]) for v in body["variants"])
    assert (first["status"], second["status"]) == ("completed", "failed")
    settings.GENERATION = {**settings.GENERATION, "TEST_PROMPT_HOOKS": False}  # the fault is gone
    assert lifecycle.retry(second["task_id"]) is True  # what staff's "retry failed" does
    retried = wait_for_task(alice_api, second["task_id"])
    assert retried["status"] == "completed" and retried["embed_status"] == "finished"
    assert alice_api.get(f"/v1/tasks/{first['task_id']}").json() == first  # the other is untouched


def test_each_variant_is_cancelled_on_its_own(alice_api, broker):
    body = _generate(alice_api, n=2).json()
    first, second = body["variants"]
    cancelled = alice_api.post(f"/v1/tasks/{second['task_id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert alice_api.get(f"/v1/tasks/{first['task_id']}").json()["status"] == "queued"
    assert Embed.objects.get(pk=first["embed_id"]).status == "processing"
    assert Embed.objects.get(pk=second["embed_id"]).status == "error"


def test_an_idempotency_key_replays_the_whole_set_of_variants(alice_api, broker):
    def post(**body):
        return alice_api.post(
            "/v1/apps/images/generate", {"prompt": "x", **body}, format="json", HTTP_IDEMPOTENCY_KEY="v-1"
        )

    first = post(n=3)
    again = post(n=3)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["variants"] == [{**v, "status": "queued"} for v in first.json()["variants"]]
    assert again.json()["task_id"] == first.json()["task_id"]
    assert post(n=2).status_code == 422  # another number of variants is another request
    assert post().status_code == 422
    assert Task.objects.count() == 3


def test_variants_are_counted_by_the_limits_and_refused_as_a_whole(alice_api, broker, settings):
    settings.GENERATION = {**settings.GENERATION, "MAX_CONCURRENT_PER_USER": 3}
    assert _generate(alice_api).status_code == 202
    response = _generate(alice_api, n=3)
    assert response.status_code == 429
    assert response.json()["error"] == {
        "code": "too_many_active_tasks",
        "message": "At most 3 images can be in progress at once: you have 1, and this request makes 3.",
        "field": None,
    }
    assert Task.objects.count() == Embed.objects.count() == 1  # nothing of the refused request
    assert _generate(alice_api, n=2).status_code == 202
    settings.GENERATION = {**settings.GENERATION, "MAX_CONCURRENT_PER_USER": 100, "RATE_LIMIT_PER_MINUTE": 4}
    assert _generate(alice_api, n=2).status_code == 429
    assert _generate(alice_api, n=1).status_code == 202
    assert Task.objects.count() == 4


# -- references (reference_embed_ids) --------------------------------------------------------------


def test_a_generation_from_references_draws_on_them_and_regenerates_from_them(alice_api, worker):
    reference = wait_for_task(alice_api, _generate(alice_api, prompt="a red apple", seed=3).json()["task_id"])
    plain = wait_for_task(alice_api, _generate(alice_api, prompt="a boat", seed=9).json()["task_id"])
    response = _generate(alice_api, prompt="a boat", seed=9, reference_embed_ids=[reference["embed_id"]])
    assert response.status_code == 202, response.content
    drawn = wait_for_task(alice_api, response.json()["task_id"])
    assert drawn["status"] == "completed", drawn
    assert _pixels(alice_api, drawn["embed_id"]) != _pixels(alice_api, plain["embed_id"])
    # Regenerated (its pinned seed, its references): the very same picture again.
    again = alice_api.post(
        f"/v1/embeds/{drawn['embed_id']}/report", {"reason": "other", "regenerate": True}, format="json"
    )
    assert again.status_code == 202, again.content
    remade = wait_for_task(alice_api, again.json()["task_id"])
    assert _pixels(alice_api, remade["embed_id"]) == _pixels(alice_api, drawn["embed_id"])


def test_references_that_are_not_the_users_own_finished_images_are_refused(alice_api, bob_api, worker):
    bobs = wait_for_task(bob_api, _generate(bob_api).json()["task_id"])["embed_id"]
    mine = wait_for_task(alice_api, _generate(alice_api).json()["task_id"])["embed_id"]
    missing = "00000000-0000-4000-8000-000000000000"
    for ids in ([bobs], [missing], [mine, bobs]):
        for path, body in (
            ("/v1/apps/images/generate", {"prompt": "x"}),
            ("/v1/apps/images/edit", {"prompt": "x", "embed_id": mine}),
        ):
            response = alice_api.post(path, {**body, "reference_embed_ids": ids}, format="json")
            assert response.status_code == 404, (path, ids, response.content)
            assert response.json()["error"] == {
                "code": "not_found",
                "message": "Not found.",
                "field": "reference_embed_ids",
            }
    for ids, code, field in (
        ("x", "invalid_request", "reference_embed_ids"),  # not a list: as embed_ids answers it
        (["nope"], "invalid_value", "reference_embed_ids.0"),
        ([mine] * 15, "value_too_long", "reference_embed_ids"),
    ):
        response = _generate(alice_api, reference_embed_ids=ids)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert (error["code"], error["field"]) == (code, field) and error["message"]
    response = _generate(alice_api, reference_embed_ids=[mine] * 5)  # listed twice is listed once
    assert response.status_code == 202, response.content
    assert Task.objects.filter(owner__username="alice").count() == 2  # nothing of the refused ones


def test_past_the_models_reference_limit_is_a_clear_400(alice_api, worker):
    ids = [
        wait_for_task(alice_api, _generate(alice_api, seed=n).json()["task_id"])["embed_id"] for n in range(5)
    ]
    response = _generate(alice_api, reference_embed_ids=ids)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_value",
        "message": "The model local/procedural takes at most 4 reference images.",
        "field": "reference_embed_ids",
    }
    models = {m["id"]: m for m in alice_api.get("/v1/apps/images/models").json()["models"]}
    assert {name: m["max_reference_images"] for name, m in models.items()} == {
        "local/procedural": 4,
        "google/gemini-3-pro-image": 14,
        "google/gemini-3.1-flash-image": 14,
        "fal-ai/flux-2/klein/9b/base": 4,
    }


def test_regenerating_twice_adds_two_versions_and_keeps_every_earlier_one(alice_api, worker):
    """Issue 15: Report/Regenerate never replaces. Each run again is a new version under the one
    reported; the reported image and its files stay until the user deletes them."""
    first = wait_for_task(alice_api, _generate(alice_api, prompt="a harbour at noon").json()["task_id"])
    reported = first["embed_id"]
    made = []
    for _ in range(2):
        response = alice_api.post(
            f"/v1/embeds/{reported}/report", {"reason": "artifacts", "regenerate": True}, format="json"
        )
        assert response.status_code == 202, response.content
        made.append(wait_for_task(alice_api, response.json()["task_id"])["embed_id"])
        reported = made[-1]
    versions = alice_api.get(f"/v1/embeds/{first['embed_id']}/versions").json()["versions"]
    assert [(v["embed_id"], v["version_kind"], v["parent_id"], v["status"]) for v in versions] == [
        (first["embed_id"], "generated", None, "finished"),
        (made[0], "regenerated", first["embed_id"], "finished"),
        (made[1], "regenerated", made[0], "finished"),
    ]
    for embed_id in (first["embed_id"], *made):
        assert alice_api.get(f"/v1/embeds/{embed_id}/file?format=preview").status_code == 200
        assert alice_api.get(f"/v1/embeds/{embed_id}/content").json()["version_count"] == 3
