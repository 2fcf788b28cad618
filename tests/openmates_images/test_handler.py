"""The hot reads (file, poll) through the real ASGI application and its one-hop handler
(openmates_images/handler.py): the same authentication (API key through the revocation-safe
cache, session cookie), owner check, error shapes, ETag/304 and Content-Length as the DRF views
answer under Django's own handler, and CSRF still enforced for a session's unsafe request."""

from __future__ import annotations

import asyncio
import io
import json
import time

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts import api_key_cache
from accounts.api_keys import do_create_api_key, do_revoke_api_key
from openmates_images.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def asgi(
    method: str,
    path: str,
    *,
    headers: list[tuple[bytes, bytes]] = (),
    query: bytes = b"",
    own_loop: bool = False,
) -> dict:
    """One request through the ASGI application; returns status, headers and body.
    ``own_loop``: in an event loop of its own (asyncio.run), as under uvicorn, instead of
    async_to_sync's (whose sync_to_async calls come back to this test's thread)."""
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
    if own_loop:
        asyncio.run(application(scope, receive, send))
    else:
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


# --- The hot reads in the event loop: the async twins answer exactly as the DRF views ---------

# Headers that legitimately differ between two answers (none today; Date is the server's).
_VOLATILE = {"date"}


def sync_answer(path: str, *, headers: dict[str, str] | None = None, query: str = "", method: str = "GET"):
    """The DRF view's answer through Django's sync handler (the test client)."""
    client = Client()
    url = f"{path}?{query}" if query else path
    response = getattr(client, method.lower())(url, headers=headers or {})
    answer = {k.lower(): v for k, v in response.headers.items() if k.lower() not in _VOLATILE}
    for cookie in response.cookies.values():  # sent as Set-Cookie, as Django's ASGI handler does
        answer["set-cookie"] = cookie.output(header="").strip()
    return {"status": response.status_code, "headers": answer, "body": response.content}


def async_answer(path: str, *, headers: dict[str, str] | None = None, query: str = "", method: str = "GET"):
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    answer = asgi(method, path, headers=raw, query=query.encode())
    answer["headers"] = {k: v for k, v in answer["headers"].items() if k not in _VOLATILE}
    return answer


def assert_same(path: str, **request) -> dict:
    """Both answers, compared whole (status, every header, the body); returns the async one."""
    sync, hot = sync_answer(path, **request), async_answer(path, **request)
    assert hot["status"] == sync["status"], (path, request)
    assert _steady_headers(hot) == _steady_headers(sync), (path, request)
    if request.get("method") != "HEAD":  # the test client drops a HEAD's body; an ASGI server does
        assert _steady(hot["body"]) == _steady(sync["body"]), (path, request)
    return hot


def _steady_headers(answer: dict) -> list:
    task = answer["body"].startswith(b'{"task_id"')  # its length moves with its countdown
    return sorted((k, v) for k, v in answer["headers"].items() if not (task and k == "content-length"))


def _steady(body: bytes) -> bytes:
    """A task's body without its countdown (a queued task's estimate moves with the clock)."""
    if not body.startswith(b'{"task_id"'):
        return body
    parsed = json.loads(body)
    parsed.pop("eta_seconds", None)
    parsed.pop("estimated_finish_at", None)
    return json.dumps(parsed).encode()


def test_the_hot_reads_are_served_in_the_event_loop_and_nothing_else_is(alice_image):
    from openmates_images.asgi import django_asgi_app

    def scope(method: str, path: str) -> dict:
        return {"type": "http", "method": method, "path": path, "root_path": ""}

    for path in (f"/v1/embeds/{alice_image}/file", "/v1/tasks/00000000-0000-0000-0000-000000000000"):
        assert django_asgi_app.loop_view(scope("GET", path)) is not None
        assert django_asgi_app.loop_view(scope("HEAD", path)) is not None
        assert django_asgi_app.loop_view(scope("POST", path)) is None
    for path in ("/healthz", f"/v1/embeds/{alice_image}", f"/v1/embeds/{alice_image}/content", "/nowhere"):
        assert django_asgi_app.loop_view(scope("GET", path)) is None


def test_a_warm_hot_read_starts_no_thread(alice_key, alice_image, monkeypatch):
    """Django's ASGI path starts a thread per request (its ThreadSensitiveContext); the hot
    reads run in the loop and hand their blocking part to a fixed pool."""
    import threading

    started: list[str] = []
    real_start = threading.Thread.start

    def counting_start(self):
        started.append(self.name)
        return real_start(self)

    path = f"/v1/embeds/{alice_image}/file"
    for _ in range(20):  # the pool's threads exist once it has been busy (up to its size)
        assert asgi("GET", path, headers=bearer(alice_key), own_loop=True)["status"] == 200
    monkeypatch.setattr(threading.Thread, "start", counting_start)

    def threads_started_by(method: str, path: str, **request) -> list[str]:
        before = len(started)
        asgi(method, path, own_loop=True, **request)
        # not the request's: moto's in-process server starts a thread per object request, and
        # asyncio.run one to shut its loop's default executor down
        ignored = ("process_request_thread", "(join)")
        return [name for name in started[before:] if not any(i in name for i in ignored)]

    # Django's way: the request's own thread (the counter sees it)
    assert len(threads_started_by("GET", "/healthz")) == 1
    assert threads_started_by("GET", path, headers=bearer(alice_key)) == []
    poll = "/v1/tasks/00000000-0000-0000-0000-000000000000"
    assert threads_started_by("GET", poll, headers=bearer(alice_key)) == []


def test_file_answers_match_the_drf_view(alice, bob, alice_key, alice_image, alice_api):
    auth = {"Authorization": f"Bearer {alice_key}"}
    path = f"/v1/embeds/{alice_image}/file"
    for variant in ("preview", "full", "original"):
        full = assert_same(path, headers=auth, query=f"format={variant}")
        assert full["status"] == 200 and int(full["headers"]["content-length"]) == len(full["body"])
    etag = full["headers"]["etag"]
    for match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        conditional = {**auth, "If-None-Match": match}
        assert assert_same(path, headers=conditional, query="format=original")["status"] == 304
    stale = {**auth, "If-None-Match": '"other"'}
    assert assert_same(path, headers=stale, query="format=original")["status"] == 200
    assert assert_same(path, headers=auth, method="HEAD")["status"] == 200
    assert assert_same(path, headers=auth, query="format=huge")["status"] == 400
    bob_key = do_create_api_key(bob).raw_key
    assert assert_same(path, headers={"Authorization": f"Bearer {bob_key}"})["status"] == 404
    assert assert_same("/v1/embeds/not-a-uuid/file", headers=auth)["status"] == 404
    running = alice_api.post("/v1/apps/images/generate", {"prompt": "a fox"}, format="json").json()
    assert assert_same(f"/v1/embeds/{running['embed_id']}/file", headers=auth)["status"] == 409


def test_authentication_failures_match_the_drf_view(alice, alice_image):
    path = f"/v1/embeds/{alice_image}/file"
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer a b"},
        {"Authorization": "Bearer omi_0000_wrong"},
        {"Authorization": "Bearer not-even-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},  # not ours: falls through to the session
        {"Cookie": "sessionid=nonsense"},
    ):
        for target in (path, "/v1/tasks/00000000-0000-0000-0000-000000000000"):
            answer = assert_same(target, headers=headers)
            assert answer["status"] == 401, (target, headers)
            assert json.loads(answer["body"])["error"]["code"] == "unauthenticated"


def test_session_reads_match_the_drf_view(alice, alice_image, alice_api):
    browser = Client()
    browser.force_login(alice)
    cookie = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    answer = assert_same(f"/v1/embeds/{alice_image}/file", headers=cookie, query="format=full")
    assert answer["status"] == 200 and "cookie" in answer["headers"]["vary"].lower()
    task_id = alice_api.post("/v1/apps/images/generate", {"prompt": "a fox"}, format="json").json()["task_id"]
    assert assert_same(f"/v1/tasks/{task_id}", headers=cookie)["status"] == 200
    alice.is_active = False
    alice.save()
    assert assert_same(f"/v1/embeds/{alice_image}/file", headers=cookie)["status"] == 401


def test_polls_match_the_drf_view_running_and_completed(alice, bob, alice_key, alice_api, worker):
    from tests.conftest import wait_for_task

    auth = {"Authorization": f"Bearer {alice_key}"}
    # Steady while compared: the provider stage has begun (the stage changes no more) and its
    # progress moves one point in 37 s (80 points over the 3000 s sleep).
    slow = {"prompt": "slow [[sleep:3000]]"}
    running = alice_api.post("/v1/apps/images/generate", slow, format="json").json()
    while alice_api.get(f"/v1/tasks/{running['task_id']}").json()["stage"] != "generating":
        time.sleep(0.05)
    body = json.loads(assert_same(f"/v1/tasks/{running['task_id']}", headers=auth)["body"])
    assert body["task_id"] == running["task_id"] and body["status"] in {"queued", "processing"}
    done = alice_api.post("/v1/apps/images/generate", {"prompt": "a harbour"}, format="json").json()
    wait_for_task(alice_api, done["task_id"])
    body = json.loads(assert_same(f"/v1/tasks/{done['task_id']}", headers=auth)["body"])
    assert body["status"] == "completed" and set(body["files"]) == {"original", "full", "preview"}
    bob_auth = {"Authorization": f"Bearer {do_create_api_key(bob).raw_key}"}
    assert assert_same(f"/v1/tasks/{done['task_id']}", headers=bob_auth)["status"] == 404
    assert assert_same("/v1/tasks/not-a-uuid", headers=auth)["status"] == 404
    alice_api.post(f"/v1/tasks/{running['task_id']}/cancel")


def test_a_revoked_key_is_refused_at_once_on_the_poll_with_a_warm_cache(alice, alice_api):
    api_key_cache.clear()
    created = do_create_api_key(alice)
    task_id = alice_api.post("/v1/apps/images/generate", {"prompt": "a fox"}, format="json").json()["task_id"]
    for _ in range(2):  # the second is a cache hit in the event loop
        assert asgi("GET", f"/v1/tasks/{task_id}", headers=bearer(created.raw_key))["status"] == 200
    do_revoke_api_key(created.api_key)
    refused = asgi("GET", f"/v1/tasks/{task_id}", headers=bearer(created.raw_key))
    assert refused["status"] == 401 and refused["headers"]["www-authenticate"] == "Bearer"


# --- The caches' guarantees hold on the hot path too --------------------------------------------


def test_the_hot_file_read_keeps_the_data_key_cache_guarantees(alice_key, alice_image, alice_api):
    from embeds.keyring.cache import data_keys
    from embeds.models import Embed

    path = f"/v1/embeds/{alice_image}/file"
    embed_pk = Embed.objects.get(pk=alice_image).id
    data_keys.clear()
    assert asgi("GET", path, headers=bearer(alice_key))["status"] == 200
    assert embed_pk in data_keys  # filled by the event loop's blocking call
    assert alice_api.delete(f"/v1/embeds/{alice_image}").status_code == 204
    assert embed_pk not in data_keys
    gone = asgi("GET", path, headers=bearer(alice_key))
    assert gone["status"] == 404 and json.loads(gone["body"])["error"]["code"] == "not_found"


def test_the_hot_reads_cache_nothing_with_the_caches_off(alice, alice_image, settings):
    from embeds.keyring.cache import data_keys
    from embeds.models import Embed

    settings.EMBEDS = {**settings.EMBEDS, "DATA_KEY_CACHE_SECONDS": 0}
    settings.API_KEY_CACHE_SECONDS = 0
    api_key_cache.clear()
    data_keys.clear()
    created = do_create_api_key(alice)
    for _ in range(2):
        answer = asgi("GET", f"/v1/embeds/{alice_image}/file", headers=bearer(created.raw_key))
        assert answer["status"] == 200 and answer["body"][:4] == b"RIFF"
    assert Embed.objects.get(pk=alice_image).id not in data_keys
    assert len(api_key_cache._entries) == 0
    do_revoke_api_key(created.api_key)
    assert asgi("GET", f"/v1/embeds/{alice_image}/file", headers=bearer(created.raw_key))["status"] == 401
