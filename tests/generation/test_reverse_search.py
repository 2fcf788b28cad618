"""Reverse image search end to end: our real client -> a SerpApi-speaking server that fetches
the shared link from our live server -> results stored in an encrypted results embed."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image

from embeds.models import Embed
from generation import shared_links
from tests.conftest import wait_for_task
from tests.fakes.serpapi_server import SerpApiServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def serpapi(settings, live_server):
    server = SerpApiServer().start()
    settings.GENERATION = {
        **settings.GENERATION,
        "SERPAPI_API_KEY": "serp-test-key",
        "SERPAPI_BASE_URL": server.url,
        "PUBLIC_BASE_URL": live_server.url,
        "MAX_RETRIES": 1,
    }
    yield server
    server.stop()


def _jpeg_with_gps() -> bytes:
    import piexif

    exif = piexif.dump(
        {
            "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((48, 1), (8, 1), (0, 1))},
            "0th": {piexif.ImageIFD.Artist: b"Secret Person"},
        }
    )
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 90, 200)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def _upload(client) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("me.jpg", _jpeg_with_gps())}, format="multipart"
    )
    assert response.status_code == 201
    return response.json()


def test_reverse_search_by_embed(alice_api, worker, serpapi):
    source = _upload(alice_api)
    response = alice_api.post(
        "/v1/apps/images/reverse-search", {"embed_id": source["embed_id"]}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    done = wait_for_task(alice_api, body["task_id"])
    assert done["status"] == "completed", done
    content = alice_api.get(f"/v1/embeds/{body['embed_id']}/content").json()
    assert content["type"] == "image_search_results"
    assert content["source_embed_id"] == source["embed_id"]
    exact, first, second = content["results"]  # exact matches first; the linkless match is dropped
    assert exact == {
        "title": "The very same picture",
        "link": "https://images.example.net/a",
        "source": "images.example.net",
        "source_icon": "https://encrypted-tbn1.gstatic.com/faviconV2?url=https://images.example.net",
        "thumbnail": "https://encrypted-tbn1.gstatic.com/images?q=tbn:same",
        "image": None,
        "width": 320,
        "height": 240,
        "exact": True,
    }
    assert first == {
        "title": "A lighthouse at dusk",
        "link": "https://example.org/lighthouse",
        "source": "example.org",
        "source_icon": "https://encrypted-tbn1.gstatic.com/faviconV2?url=https://example.org",
        "thumbnail": "https://encrypted-tbn2.gstatic.com/images?q=tbn:lighthouse",
        "image": "https://example.org/images/lighthouse.jpg",
        "width": 1600,
        "height": 1067,
        "exact": False,
    }
    assert second["link"] == "https://photos.example.com/coast" and second["width"] == 1200

    (request,) = serpapi.searches
    assert request["engine"] == "google_lens" and request["url"] == serpapi.fetches[-1]["url"]
    assert "image_url" not in request
    fetch = serpapi.fetches[-1]
    assert fetch["status"] == 200 and fetch["type"] == "image/png"
    assert fetch["body"].startswith(b"\x89PNG")
    assert b"Secret Person" not in fetch["body"] and b"GPS" not in fetch["body"]
    # The link dies with the task.
    assert requests.get(fetch["url"], timeout=5).status_code == 404
    assert Embed.objects.get(pk=body["embed_id"]).status == "finished"


def test_the_dead_engine_stays_selectable_without_a_fallback(alice_api, worker, serpapi, settings):
    settings.GENERATION = {**settings.GENERATION, "SERPAPI_ENGINE": "google_reverse_image"}
    source = _upload(alice_api)
    body = alice_api.post(
        "/v1/apps/images/reverse-search", {"embed_id": source["embed_id"]}, format="json"
    ).json()
    done = wait_for_task(alice_api, body["task_id"])
    assert done["status"] == "completed"
    content = alice_api.get(f"/v1/embeds/{body['embed_id']}/content").json()
    assert content["results"] == [] and "SERPAPI_ENGINE=google_lens" in content["message"]
    (request,) = serpapi.searches  # asked once, as configured: google_lens was not tried instead
    assert request["engine"] == "google_reverse_image" and request["image_url"]


def test_reverse_search_by_multipart_upload_and_no_results(alice_api, worker, serpapi):
    from django.core.files.uploadedfile import SimpleUploadedFile

    serpapi.mode = "no_results"
    response = alice_api.post(
        "/v1/apps/images/reverse-search",
        {"file": SimpleUploadedFile("x.jpg", _jpeg_with_gps())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    done = wait_for_task(alice_api, response.json()["task_id"])
    assert done["status"] == "completed"
    content = alice_api.get(f"/v1/embeds/{done['embed_id']}/content").json()
    assert content["results"] == []
    assert "No results" in content["message"]


@pytest.mark.parametrize(
    ("mode", "code"), [("error_503", "provider_unavailable"), ("error_429", "quota_exceeded")]
)
def test_provider_errors_end_cleanly(alice_api, worker, serpapi, mode, code):
    serpapi.mode = mode
    source = _upload(alice_api)
    body = alice_api.post(
        "/v1/apps/images/reverse-search", {"embed_id": source["embed_id"]}, format="json"
    ).json()
    done = wait_for_task(alice_api, body["task_id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == code
    assert done["error"]["message"]


def test_unreachable_provider_and_bad_key(alice_api, worker, serpapi, settings):
    source = _upload(alice_api)
    settings.GENERATION = {**settings.GENERATION, "SERPAPI_API_KEY": "wrong"}
    body = alice_api.post(
        "/v1/apps/images/reverse-search", {"embed_id": source["embed_id"]}, format="json"
    ).json()
    assert wait_for_task(alice_api, body["task_id"])["error"]["code"] == "provider_unavailable"
    settings.GENERATION = {
        **settings.GENERATION,
        "SERPAPI_API_KEY": "serp-test-key",
        "SERPAPI_BASE_URL": "http://127.0.0.1:9",
    }
    body = alice_api.post(
        "/v1/apps/images/reverse-search", {"embed_id": source["embed_id"]}, format="json"
    ).json()
    done = wait_for_task(alice_api, body["task_id"])
    assert done["status"] == "failed" and done["error"]["code"] == "provider_unavailable"


def test_without_key_it_is_refused_up_front(alice_api):
    source = _upload(alice_api)
    response = alice_api.post(
        "/v1/apps/images/reverse-search", {"embed_id": source["embed_id"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "provider_unavailable"
    # an uploaded file is refused the same way, before it becomes an embed
    before = Embed.objects.count()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (9, 9, 9)).save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = "x.png"
    response = alice_api.post("/v1/apps/images/reverse-search", {"file": buffer}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["code"] == "provider_unavailable"
    assert Embed.objects.count() == before


def test_shared_tokens_are_unforgeable_and_expire(alice_api, client, broker):
    from generation.models import Task

    source = _upload(alice_api)
    token = shared_links.make_token(source["embed_id"], "00000000-0000-0000-0000-000000000000")
    assert shared_links.read_token(token) is not None
    assert shared_links.read_token(token[:-2] + "xx") is None
    assert shared_links.read_token(shared_links.make_token(source["embed_id"], "x", seconds=-1)) is None
    assert client.get(f"/shared/{token}").status_code == 404  # no such live task
    assert client.get("/shared/garbage").status_code == 404
    assert not Task.objects.exists()


def test_other_users_embed_is_404(alice_api, bob_api, serpapi):
    source = _upload(alice_api)
    response = bob_api.post("/v1/apps/images/reverse-search", {"embed_id": source["embed_id"]}, format="json")
    assert response.status_code == 404
