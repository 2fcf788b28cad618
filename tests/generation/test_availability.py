"""Which models really work, and why not: provider probes (Gemini models.get), a 404 at call
time, the public address providers fetch from; reported by the models list, /readyz, the system
checks and ``manage.py check_providers``, for image and analysis models alike. The GA model and
the seed's preview id as its alias."""

from __future__ import annotations

import dataclasses
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from generation import availability
from tests.conftest import wait_for_task
from tests.fakes.gemini_server import GeminiServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _forget_probes():
    """Probe results live in Redis under this test database's name: start and end clean."""
    availability.forget_all()
    yield
    availability.forget_all()


@pytest.fixture
def gemini(settings):
    with GeminiServer() as server:
        settings.GENERATION = {
            **settings.GENERATION,
            "GOOGLE_API_KEY": "g-test-key",
            "GEMINI_BASE_URL": server.url,
            "MAX_RETRIES": 0,
        }
        yield server


def models(client) -> dict[str, dict]:
    body = client.get("/v1/apps/images/models").json()
    return {m["id"]: m for m in body["models"]} | {"reverse_search": body["reverse_search"]}


def test_the_ga_model_is_listed_with_the_preview_id_as_an_alias(alice_api):
    listed = models(alice_api)
    high_end = listed["google/gemini-3-pro-image"]
    assert {"high-end", "google/gemini-3-pro-image-preview", "gemini-3-pro-image-preview"} <= set(
        high_end["aliases"]
    )
    flash = listed["google/gemini-3.1-flash-image"]
    assert (
        flash["provider"] == "gemini"
        and flash["supports_edit"]
        and flash["image_sizes"] == ["1K", "2K", "4K"]
    )
    assert float(flash["cost_usd"]) < float(high_end["cost_usd"])
    assert "google/gemini-3-pro-image-preview" not in listed  # an alias, not a model of its own
    assert high_end["available"] is False and "GOOGLE_API_KEY" in high_end["unavailable_reason"]


def test_the_preview_alias_calls_the_ga_model_and_records_it(alice_api, worker, gemini):
    response = alice_api.post(
        "/v1/apps/images/generate",
        {"prompt": "a fox", "model": "google/gemini-3-pro-image-preview"},
        format="json",
    )
    assert response.status_code == 202, response.content
    done = wait_for_task(alice_api, response.json()["task_id"])
    assert done["status"] == "completed", done
    (call,) = gemini.calls
    assert call["path"] == "/v1beta/models/gemini-3-pro-image:generateContent"
    content = alice_api.get(f"/v1/embeds/{done['embed_id']}/content").json()
    assert content["model"] == "google/gemini-3-pro-image"  # the model really called
    provenance = alice_api.get(f"/v1/embeds/{done['embed_id']}/provenance").json()["renditions"]
    assert {r["ai_system"] for r in provenance.values()} == {"gemini-3-pro-image"}


def test_a_probe_finds_a_missing_model_and_every_report_says_so(alice_api, client, gemini):
    gemini.models.discard("gemini-3.1-flash-image")  # e.g. not offered to this key's project
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("check_providers", stdout=out)
    assert "google/gemini-3.1-flash-image" in str(raised.value)
    printed = out.getvalue()
    assert "ok           google/gemini-3-pro-image" in printed
    assert "UNAVAILABLE  google/gemini-3.1-flash-image: Google answers 404 NOT_FOUND" in printed
    assert "unconfigured fal-ai/flux-2/klein/9b/base: Not configured: FAL_KEY is not set." in printed
    assert "ok           google/gemini-3.5-flash" in printed  # the analysis models are asked too
    assert [r["path"] for r in gemini.model_gets] == [
        "/v1beta/models/gemini-3-pro-image",
        "/v1beta/models/gemini-3.1-flash-image",
        "/v1beta/models/gemini-3.5-flash",
        "/v1beta/models/gemini-3.8-flash",
    ]
    assert gemini.calls == []  # asking costs nothing

    listed = models(alice_api)
    assert listed["google/gemini-3-pro-image"]["available"] is True
    flash = listed["google/gemini-3.1-flash-image"]
    assert flash["available"] is False and "404" in flash["unavailable_reason"]
    assert flash["edit_available"] is False

    ready = client.get("/readyz")
    assert ready.status_code == 200  # a warning, not a 503
    assert "404" in ready.json()["warnings"]["google/gemini-3.1-flash-image"]
    assert "google/gemini-3-pro-image" not in ready.json()["warnings"]

    refused = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "a fox", "model": "gemini-3.1-flash-image"}, format="json"
    )
    assert refused.status_code == 400
    assert (
        refused.json()["error"]["code"] == "provider_unavailable"
        and "404" in refused.json()["error"]["message"]
    )
    assert gemini.calls == []


def test_an_analysis_model_gone_at_google_is_reported_and_refused_before_any_call(alice_api, client, gemini):
    from generation.models import Task
    from tests.generation.api.test_analyze import _upload

    gemini.models.discard("gemini-3.8-flash")  # e.g. withdrawn after this release
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("check_providers", stdout=out)
    assert str(raised.value) == "Unavailable though configured: google/gemini-3.8-flash"
    printed = out.getvalue()
    assert "ok           local/inspector" in printed
    assert "ok           google/gemini-3.5-flash" in printed
    assert "UNAVAILABLE  google/gemini-3.8-flash: Google answers 404 NOT_FOUND" in printed
    assert gemini.calls == []

    listed = alice_api.get("/v1/apps/images/analyze/models").json()
    by_id = {m["id"]: m for m in listed["models"]}
    assert by_id["google/gemini-3.5-flash"]["available"] is True
    gone = by_id["google/gemini-3.8-flash"]
    assert gone["available"] is False and "404" in gone["unavailable_reason"]

    warnings = client.get("/readyz").json()["warnings"]
    assert "404" in warnings["google/gemini-3.8-flash"]
    assert "google/gemini-3.5-flash" not in warnings and "local/inspector" not in warnings

    embed_id = _upload(alice_api)["embed_id"]
    refused = alice_api.post(
        "/v1/apps/images/analyze",
        {"embed_id": embed_id, "question": "What is this?", "model": "gemini-3.8-flash"},
        format="json",
    )
    assert refused.status_code == 400, refused.content
    error = refused.json()["error"]
    assert error["code"] == "provider_unavailable" and error["field"] == "model" and "404" in error["message"]
    assert gemini.calls == [] and not Task.objects.filter(kind=Task.Kind.ANALYZE).exists()

    gemini.models.add("gemini-3.8-flash")  # back: the next probe clears it
    availability.check_models()
    assert "google/gemini-3.8-flash" not in client.get("/readyz").json()["warnings"]


def test_a_404_at_call_time_marks_the_model_unavailable_at_once(alice_api, worker, gemini):
    availability.check_models()
    assert models(alice_api)["google/gemini-3-pro-image"]["available"] is True
    gemini.models.discard("gemini-3-pro-image")  # shut down after the last probe
    response = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "a fox", "model": "high-end"}, format="json"
    )
    done = wait_for_task(alice_api, response.json()["task_id"])
    assert done["status"] == "failed" and done["attempts"] == 1
    assert done["error"]["code"] == "provider_unavailable" and "404" in done["error"]["message"]
    high_end = models(alice_api)["google/gemini-3-pro-image"]
    assert high_end["available"] is False and "404" in high_end["unavailable_reason"]
    again = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "a fox", "model": "high-end"}, format="json"
    )
    assert again.status_code == 400 and len(gemini.calls) == 1  # refused before another paid call
    gemini.models.add("gemini-3-pro-image")  # back: the next probe clears it
    availability.check_models()
    assert models(alice_api)["google/gemini-3-pro-image"]["available"] is True


def test_a_private_public_address_blocks_fal_edits_and_search_with_the_reason(alice_api, client, settings):
    from django.core import checks

    settings.GENERATION = {
        **settings.GENERATION,
        "FAL_KEY": "fal-key",
        "FAL_QUEUE_BASE_URL": "https://queue.fal.run",
        "SERPAPI_API_KEY": "serp-key",
        "SERPAPI_BASE_URL": "https://serpapi.com",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
    }
    listed = models(alice_api)
    draft = listed["fal-ai/flux-2/klein/9b/base"]
    assert draft["available"] is True  # it still generates: only edits need our address
    assert draft["edit_available"] is False and "PUBLIC_BASE_URL" in draft["edit_unavailable_reason"]
    assert listed["reverse_search"]["available"] is False
    assert listed["reverse_search"]["engine"] == "google_lens"
    assert "PUBLIC_BASE_URL" in listed["reverse_search"]["unavailable_reason"]
    found = {message.id: message.msg for message in checks.run_checks()}
    assert "PUBLIC_BASE_URL" in found["generation.W001"] and "PUBLIC_BASE_URL" in found["generation.W002"]
    warnings = client.get("/readyz").json()["warnings"]
    assert set(warnings) >= {"fal-ai/flux-2/klein/9b/base (edit)", "reverse_search"}

    settings.GENERATION = {**settings.GENERATION, "PUBLIC_BASE_URL": "https://images.example.org"}
    listed = models(alice_api)
    assert listed["fal-ai/flux-2/klein/9b/base"]["edit_available"] is True
    assert listed["reverse_search"]["available"] is True
    assert not {"generation.W001", "generation.W002"} & {m.id for m in checks.run_checks()}


def test_an_unsupported_engine_is_a_system_check_error(settings):
    from django.core import checks

    settings.GENERATION = {**settings.GENERATION, "SERPAPI_ENGINE": "bing_reverse_image"}
    errors = [m for m in checks.run_checks() if m.id == "generation.E001"]
    assert errors and "bing_reverse_image" in errors[0].msg


def test_check_providers_says_when_a_provider_did_not_answer(gemini, settings):
    settings.GENERATION = {**settings.GENERATION, "GOOGLE_API_KEY": "wrong-key"}
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_providers", stdout=out)
    assert "UNCHECKED    google/gemini-3-pro-image: the provider did not answer the check" in out.getvalue()
    assert "ClientError" in out.getvalue()


def test_an_old_embed_keeps_its_preview_name_and_regenerates_on_the_ga_model(alice_api, worker, gemini):
    from embeds import sealing
    from embeds.models import Embed

    response = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "a fox", "model": "high-end"}, format="json"
    )
    done = wait_for_task(alice_api, response.json()["task_id"])
    assert done["status"] == "completed", done
    opened = sealing.open_embed(Embed.objects.get(pk=done["embed_id"]))
    # as embeds made before 2026-06-25 say
    content = dataclasses.replace(opened.content(), model="google/gemini-3-pro-image-preview")
    opened.seal_content(content)
    Embed.objects.filter(pk=done["embed_id"]).update(encrypted_content=opened.embed.encrypted_content)
    shown = alice_api.get(f"/v1/embeds/{done['embed_id']}/content").json()
    assert shown["model"] == "google/gemini-3-pro-image-preview"  # history is not rewritten

    report = alice_api.post(
        f"/v1/embeds/{done['embed_id']}/report", {"reason": "artifacts", "regenerate": True}, format="json"
    )
    assert report.status_code == 202, report.content
    again = wait_for_task(alice_api, report.json()["task_id"])
    assert again["status"] == "completed", again
    assert (
        alice_api.get(f"/v1/embeds/{again['embed_id']}/content").json()["model"]
        == "google/gemini-3-pro-image"
    )
    assert [c["path"] for c in gemini.calls] == ["/v1beta/models/gemini-3-pro-image:generateContent"] * 2


def test_the_monitor_checks_at_start_up(alice_api, gemini, settings):
    import time

    gemini.models.discard("gemini-3.1-flash-image")
    settings.GENERATION = {**settings.GENERATION, "PROVIDER_CHECK_INTERVAL_SECONDS": 3600}
    thread = availability.start_availability_monitor()
    try:
        assert availability.start_availability_monitor() is thread  # one per process
        deadline = time.monotonic() + 10
        while len(gemini.model_gets) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        thread.stop.set()
        thread.join(5)
        listed = models(alice_api)
        assert listed["google/gemini-3.1-flash-image"]["available"] is False
        assert listed["google/gemini-3-pro-image"]["available"] is True
    finally:
        thread.stop.set()
        availability._monitor = None
