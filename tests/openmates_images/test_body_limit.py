"""The request-body cap in front of Django, driven through the real ASGI application."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync

from openmates_images.asgi import application

MIB = 1024 * 1024


@pytest.fixture
def small_uploads(settings):
    settings.EMBEDS = {**settings.EMBEDS, "UPLOAD_MAX_BYTES": MIB}  # cap: 1 MiB + 1 MiB framing


def call(path: str, *, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[dict, list]:
    """Send a POST in the given chunks; returns (the response, the chunks never read)."""
    pending = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    pending.append({"type": "http.request", "body": b"", "more_body": False})
    sent: list[dict] = []

    async def receive():
        if pending:
            return pending.pop(0)
        await asyncio.Future()  # like a server: the client stays connected until the response

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    async_to_sync(application)(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": start["status"], "body": body}, pending


def test_a_streamed_body_over_the_cap_is_cut_off_with_413(small_uploads):
    multipart = [(b"content-type", b"multipart/form-data; boundary=x")]  # chunked: no length
    response, unread = call("/v1/embeds/upload", headers=multipart, chunks=[b"x" * MIB] * 30)
    assert response["status"] == 413
    assert json.loads(response["body"])["error"]["code"] == "request_too_large"
    assert len(unread) >= 25  # stopped reading at the cap, not after 30 MiB


def test_a_declared_length_over_the_cap_is_refused_unread(small_uploads):
    headers = [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", b"31457280")]
    response, unread = call("/v1/embeds/upload", headers=headers, chunks=[b"x" * MIB] * 30)
    assert response["status"] == 413 and len(unread) == 31


@pytest.mark.django_db
def test_a_body_under_the_cap_reaches_django(small_uploads):
    response, _ = call(
        "/v1/apps/images/generate", headers=[(b"content-type", b"application/json")], chunks=[b"{}"]
    )
    assert response["status"] == 401  # Django (and our auth) answered, not the cap


@pytest.fixture
def api_key(alice):
    from accounts.api_keys import do_create_api_key

    return do_create_api_key(alice).raw_key


@pytest.mark.django_db(transaction=True)
def test_a_body_between_djangos_memory_limit_and_the_cap_gets_our_error_shape(api_key):
    """A 5 MB prompt is over Django's DATA_UPLOAD_MAX_MEMORY_SIZE but under the body cap: the
    serializer, not Django, refuses it, as JSON."""
    body = json.dumps({"prompt": "p" * (5 * 1000 * 1000)}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Bearer {api_key}".encode()),
    ]
    response, _ = call("/v1/apps/images/generate", headers=headers, chunks=[body])
    assert response["status"] == 400, response["body"][:300]
    error = json.loads(response["body"])["error"]
    assert error["code"] == "value_too_long" and error["field"] == "prompt"


@pytest.mark.django_db(transaction=True)
def test_a_body_over_djangos_memory_limit_gets_our_error_shape(api_key, settings):
    """Should DATA_UPLOAD_MAX_MEMORY_SIZE be set below the cap, its refusal is still our JSON."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = MIB
    body = json.dumps({"prompt": "p" * (2 * MIB)}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Bearer {api_key}".encode()),
    ]
    response, _ = call("/v1/apps/images/generate", headers=headers, chunks=[body])
    assert response["status"] == 413, response["body"][:300]
    assert json.loads(response["body"])["error"]["code"] == "request_too_large"


@pytest.mark.django_db(transaction=True)
def test_a_bad_host_on_the_api_gets_our_error_shape():
    response, _ = call(
        "/v1/apps/images/generate",
        headers=[(b"content-type", b"application/json"), (b"host", b"evil.example")],
        chunks=[b"{}"],
    )
    assert response["status"] == 400
    assert json.loads(response["body"])["error"]["code"] == "bad_host"
