"""The hot reads (file, poll) through the real ASGI application and its one-hop handler
(openmates_images/handler.py): the same authentication (API key through the revocation-safe
cache, session cookie), owner check, error shapes, ETag/304 and Content-Length as the DRF views
answer under Django's own handler, and CSRF still enforced for a session's unsafe request."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts import api_key_cache
from accounts.api_keys import do_create_api_key, do_revoke_api_key
from openmates_images.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def asgi(method: str, path: str, *, headers: list[tuple[bytes, bytes]] = (), query: bytes = b"") -> dict:
    """One request through the ASGI application; returns status, headers and body."""
    pending = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict] = []

    async def receive():
        if pending:
            return pending.pop(0)
        await asyncio.Future()  # the client stays connected until the response

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    async_to_sync(application)(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return {
        "status": start["status"],
        "headers": {k.decode().lower(): v.decode() for k, v in start["headers"]},
        "body": b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    }


def bearer(raw_key: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {raw_key}".encode())]


@pytest.fixture
def alice_key(alice) -> str:
    api_key_cache.clear()
    return do_create_api_key(alice).raw_key


@pytest.fixture
def alice_image(alice_api) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 130, 40)).save(buffer, "PNG")
    response = alice_api.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("a.png", buffer.getvalue())}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return response.json()["embed_id"]


def test_file_with_an_api_key_length_etag_and_304(alice_key, alice_image):
    path = f"/v1/embeds/{alice_image}/file"
    full = asgi("GET", path, headers=bearer(alice_key), query=b"format=full")
    assert full["status"] == 200
    assert full["headers"]["content-type"] == "image/webp"
    assert int(full["headers"]["content-length"]) == len(full["body"]) > 0
    assert full["body"][:4] == b"RIFF"
    etag = full["headers"]["etag"]
    again = asgi(
        "GET", path, headers=[*bearer(alice_key), (b"if-none-match", etag.encode())], query=b"format=full"
    )
    assert again["status"] == 304 and again["body"] == b"" and again["headers"]["etag"] == etag
    assert "content-type" not in again["headers"]


def test_someone_elses_file_and_task_answer_404_in_the_api_shape(bob, alice_key, alice_image, alice_api):
    bob_key = do_create_api_key(bob).raw_key
    for path in (f"/v1/embeds/{alice_image}/file", "/v1/tasks/00000000-0000-0000-0000-000000000000"):
        response = asgi("GET", path, headers=bearer(bob_key))
        assert response["status"] == 404
        assert json.loads(response["body"]) == {
            "error": {"code": "not_found", "message": "Not found.", "field": None}
        }
    task_id = alice_api.post("/v1/apps/images/generate", {"prompt": "a fox"}, format="json").json()["task_id"]
    assert asgi("GET", f"/v1/tasks/{task_id}", headers=bearer(bob_key))["status"] == 404
    own = asgi("GET", f"/v1/tasks/{task_id}", headers=bearer(alice_key))
    assert own["status"] == 200 and json.loads(own["body"])["task_id"] == task_id


def test_bad_input_and_missing_credentials_keep_their_error_shapes(alice_key, alice_image):
    bad = asgi("GET", f"/v1/embeds/{alice_image}/file", headers=bearer(alice_key), query=b"format=huge")
    assert bad["status"] == 400
    assert json.loads(bad["body"])["error"]["code"] == "invalid_value"
    assert json.loads(bad["body"])["error"]["field"] == "format"
    anonymous = asgi("GET", f"/v1/embeds/{alice_image}/file")  # after alice's request, on a reused thread
    assert anonymous["status"] == 401 and anonymous["headers"]["www-authenticate"] == "Bearer"
    assert json.loads(anonymous["body"])["error"]["code"] == "unauthenticated"


def test_a_revoked_key_is_refused_at_once_with_a_warm_cache(alice, alice_image):
    api_key_cache.clear()
    created = do_create_api_key(alice)
    path = f"/v1/embeds/{alice_image}/file"
    for _ in range(2):  # the second request is served from the cache
        assert asgi("GET", path, headers=bearer(created.raw_key))["status"] == 200
    do_revoke_api_key(created.api_key)
    refused = asgi("GET", path, headers=bearer(created.raw_key))
    assert refused["status"] == 401
    assert json.loads(refused["body"])["error"]["code"] == "unauthenticated"


def test_session_cookie_reads_and_csrf_still_guards_unsafe_requests(alice, alice_image):
    browser = Client()
    browser.force_login(alice)
    cookie = [(b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())]
    response = asgi("GET", f"/v1/embeds/{alice_image}/file", headers=cookie)
    assert response["status"] == 200 and response["body"][:4] == b"RIFF"
    deleted = asgi("DELETE", f"/v1/embeds/{alice_image}", headers=cookie)  # no CSRF token
    assert deleted["status"] == 403
    assert asgi("GET", f"/v1/embeds/{alice_image}/file", headers=cookie)["status"] == 200


def test_the_application_runs_the_middleware_chain_in_one_sync_call():
    from asgiref.sync import iscoroutinefunction

    from openmates_images.asgi import django_asgi_app
    from openmates_images.handler import OneHopASGIHandler

    assert isinstance(django_asgi_app, OneHopASGIHandler)
    assert not iscoroutinefunction(django_asgi_app._middleware_chain)
