"""The WebSocket consumer on the real channels-redis layer: who may connect, the generate skill,
cancel, and who receives which events."""

from __future__ import annotations

import contextlib
import functools
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from chats.consumers import UserEventsConsumer
from core.realtime import EMBED_UPDATE, send_to_user
from tests.system.test_embedded_mode import embedded_server  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


_made: list[WebsocketCommunicator] = []


class Communicator(WebsocketCommunicator):
    """A test socket that ``run_async`` closes when its test ends, passed or failed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _made.append(self)


def run_async(test):
    """Run an async test body in one event loop (no pytest-asyncio needed).

    Every socket the test opened is disconnected before the loop closes: a consumer left
    running is otherwise cancelled by the loop's shutdown in the middle of a channel-layer
    read, which is how a run of this module once hung (a shutdown waiting on that read)."""

    async def body(*args, **kwargs):
        _made.clear()
        try:
            return await test(*args, **kwargs)
        finally:
            for comm in _made:
                with contextlib.suppress(Exception):
                    await comm.disconnect(timeout=10)
            _made.clear()

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return async_to_sync(body)(*args, **kwargs)

    return wrapper


def communicator(user) -> WebsocketCommunicator:
    comm = Communicator(UserEventsConsumer.as_asgi(), "/ws/")
    comm.scope["user"] = user
    return comm


@run_async
async def test_anonymous_is_refused():
    comm = communicator(AnonymousUser())
    connected, code = await comm.connect()
    assert not connected and code == 4401


@run_async
async def test_events_reach_every_tab_of_the_user_and_nobody_else(alice, bob):
    tabs = [communicator(alice), communicator(alice)]
    other = communicator(bob)
    for comm in (*tabs, other):
        assert (await comm.connect())[0]
    await sync_to_async(send_to_user)(alice.pk, EMBED_UPDATE, {"embed_id": "e1", "status": "completed"})
    for comm in tabs:
        assert await comm.receive_json_from(timeout=5) == {
            "type": "embed_update",
            "payload": {"embed_id": "e1", "status": "completed"},
        }
    assert await other.receive_nothing(timeout=0.5)
    for comm in (*tabs, other):
        await comm.disconnect()


@run_async
async def test_generate_over_the_socket_and_cancel(alice):
    comm = communicator(alice)
    await comm.connect()
    await comm.send_json_to(
        {"type": "generate", "request_id": "r1", "prompt": "a violet kite", "aspect_ratio": "4:3"}
    )
    reply = None
    while reply is None or reply.get("request_id") != "r1":
        reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "embed_created"
    assert reply["payload"]["status"] == "queued" and reply["payload"]["embed_status"] == "processing"
    assert reply["message"]["embeds"][0]["embed_id"] == reply["payload"]["embed_id"]
    await comm.send_json_to({"type": "cancel", "request_id": "r2", "task_id": reply["payload"]["task_id"]})
    cancelled = None
    while cancelled is None or cancelled.get("request_id") != "r2":
        cancelled = await comm.receive_json_from(timeout=10)
    assert cancelled["payload"]["status"] == "cancelled"
    await comm.disconnect()


@run_async
async def test_bad_requests_and_other_users_ids_answer_errors(alice, bob):
    from generation.actions import GenerationParams, check_create_generation
    from generation.registry import default_model

    task, _ = await sync_to_async(check_create_generation)(
        alice, GenerationParams(prompt="x", aspect_ratio="1:1", model=default_model())
    )
    from chats.actions import do_create_chat

    alices_chat = await sync_to_async(do_create_chat)(alice)
    comm = communicator(bob)
    await comm.connect()
    for message, code in (
        ({"type": "cancel", "task_id": str(task.id)}, "not_found"),
        ({"type": "generate", "prompt": "x", "chat_id": str(alices_chat.id)}, "not_found"),
        ({"type": "generate", "prompt": ""}, "invalid_value"),
        ({"type": "generate", "prompt": "x", "aspect_ratio": "7:1"}, "invalid_value"),
        ({"type": "generate", "prompt": "x", "chat_id": "00000000-0000-0000-0000-000000000000"}, "not_found"),
        ({"type": "dance"}, "invalid_value"),  # as REST says of a value it does not know
    ):
        await comm.send_json_to({**message, "request_id": "q"})
        reply = await comm.receive_json_from(timeout=10)
        while reply["type"] != "error":
            reply = await comm.receive_json_from(timeout=10)
        assert reply["error"]["code"] == code, (message, reply)
    await comm.disconnect()


async def _asgi_socket(client) -> WebsocketCommunicator:
    """A socket through the real ASGI stack (origin check, session and auth middleware), with
    the session cookie of a logged-in test client."""
    from openmates_images.asgi import application

    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    comm = Communicator(
        application,
        "/ws/",
        headers=[(b"cookie", cookie), (b"origin", b"http://localhost"), (b"host", b"localhost")],
    )
    connected, _ = await comm.connect()
    assert connected
    return comm


@run_async
async def test_frames_that_are_not_json_objects_get_an_error_and_the_socket_stays(alice):
    comm = communicator(alice)
    assert (await comm.connect())[0]
    for frame in ("not json", "[]", "123"):
        await comm.send_to(text_data=frame)
        reply = await comm.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["error"]["code"] == "invalid_json"
    await comm.send_json_to({"type": "ping", "request_id": "r1"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong", "request_id": "r1"}
    await comm.disconnect()


@run_async
async def test_logging_out_closes_that_sessions_sockets_only(alice):
    from django.test import Client

    laptop, phone = Client(), Client()
    for browser in (laptop, phone):
        await sync_to_async(browser.force_login)(alice)
    laptop_socket, phone_socket = await _asgi_socket(laptop), await _asgi_socket(phone)
    await sync_to_async(laptop.post)("/logout/")
    assert (await laptop_socket.receive_output(timeout=5))["type"] == "websocket.close"
    await sync_to_async(send_to_user)(alice.pk, EMBED_UPDATE, {"embed_id": "e2"})
    assert (await phone_socket.receive_json_from(timeout=5))["payload"] == {"embed_id": "e2"}
    await phone_socket.disconnect()


@pytest.mark.parametrize(
    ("origin", "host", "accepted"),
    [
        (b"https://evil.example", b"localhost", False),
        (b"http://127.0.0.1:6666", b"127.0.0.1:8000", False),  # same host name, another service
        (b"https://127.0.0.1:8000", b"127.0.0.1:8000", False),  # another scheme
        (b"http://localhost:8000", b"127.0.0.1:8000", False),
        (b"http://127.0.0.1:8000", b"evil.example", False),  # a Host we do not serve
        (b"null", b"127.0.0.1:8000", False),
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),
        (b"http://[::1]:8000", b"[::1]:8000", True),
    ],
)
@run_async
async def test_only_the_sockets_own_origin_is_accepted(alice, origin, host, accepted):
    """As CSRF does: scheme, host and port of the Origin must be the server's own."""
    from django.test import Client

    from openmates_images.asgi import application

    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    comm = Communicator(
        application, "/ws/", headers=[(b"cookie", cookie), (b"origin", origin), (b"host", host)]
    )
    connected, _ = await comm.connect()
    assert connected is accepted
    if connected:
        await comm.disconnect()


@run_async
async def test_a_trusted_origin_is_accepted(alice, settings):
    from django.test import Client

    from openmates_images.asgi import application

    settings.CSRF_TRUSTED_ORIGINS = ["https://*.chat.example"]
    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    headers = [(b"cookie", cookie), (b"origin", b"https://app.chat.example"), (b"host", b"127.0.0.1:8000")]
    comm = Communicator(application, "/ws/", headers=headers)
    assert (await comm.connect())[0]
    await comm.disconnect()


@run_async
async def test_an_idle_socket_outlives_the_layers_blocking_pop(alice):
    """channels-redis blocks 5 s per receive; an idle socket must stay up across several."""
    import asyncio

    comm = communicator(alice)
    assert (await comm.connect())[0]
    await asyncio.sleep(12)
    await sync_to_async(send_to_user)(alice.pk, EMBED_UPDATE, {"embed_id": "late"})
    assert (await comm.receive_json_from(timeout=5))["payload"] == {"embed_id": "late"}
    await comm.disconnect()


async def _bearer_socket(key: str, headers: list | None = None) -> tuple[WebsocketCommunicator, bool, int]:
    from openmates_images.asgi import application

    comm = Communicator(
        application, "/ws/", headers=[(b"authorization", f"Bearer {key}".encode()), *(headers or [])]
    )
    connected, code = await comm.connect()
    return comm, connected, code


@run_async
async def test_an_api_client_listens_with_its_key_instead_of_polling(alice, bob):
    """No Origin (not a browser): the key names the user, who gets their events and no one else's."""
    from accounts.api_keys import do_create_api_key

    key = (await sync_to_async(do_create_api_key)(alice)).raw_key
    comm, connected, _ = await _bearer_socket(key)
    assert connected
    await sync_to_async(send_to_user)(bob.pk, EMBED_UPDATE, {"embed_id": "bobs"})
    await sync_to_async(send_to_user)(alice.pk, EMBED_UPDATE, {"embed_id": "alices"})
    assert (await comm.receive_json_from(timeout=5))["payload"] == {"embed_id": "alices"}
    await comm.disconnect()


@run_async
async def test_a_wrong_key_is_refused_even_beside_a_valid_session(alice):
    from django.test import Client

    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    cookie = (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())
    for key in ("omi_nope_nope", "not-even-a-key"):
        _, connected, code = await _bearer_socket(
            key, [cookie, (b"origin", b"http://localhost"), (b"host", b"localhost")]
        )
        assert not connected and code == 4401


@run_async
async def test_a_refused_socket_leaves_nothing_running(alice):
    """A socket refused at its handshake (foreign origin, wrong key, no credentials) ends at
    once: no consumer is left reading the channel layer after the client has gone."""
    import asyncio

    from django.test import Client

    from openmates_images.asgi import application

    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    cookie = (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())
    refusals = [
        ([cookie, (b"origin", b"https://evil.example"), (b"host", b"localhost")], 1000),
        ([(b"authorization", b"Bearer omi_nope_nope")], 4401),
        ([(b"origin", b"http://localhost"), (b"host", b"localhost")], 4401),
    ]
    for headers, expected_code in refusals:
        comm = Communicator(application, "/ws/", headers=headers)
        connected, code = await comm.connect()
        assert not connected and code == expected_code
        await asyncio.wait_for(asyncio.shield(comm.future), timeout=1)  # ended by itself
        assert comm.future.exception() is None


@run_async
async def test_revoking_a_key_closes_the_sockets_it_opened(alice):
    from accounts.api_keys import do_create_api_key, do_revoke_api_key

    revoked, kept = [await sync_to_async(do_create_api_key)(alice) for _ in range(2)]
    revoked_socket, connected, _ = await _bearer_socket(revoked.raw_key)
    kept_socket, also_connected, _ = await _bearer_socket(kept.raw_key)
    assert connected and also_connected
    await sync_to_async(do_revoke_api_key)(revoked.api_key)
    assert (await revoked_socket.receive_output(timeout=5))["type"] == "websocket.close"
    await sync_to_async(send_to_user)(alice.pk, EMBED_UPDATE, {"embed_id": "still"})
    assert (await kept_socket.receive_json_from(timeout=5))["payload"] == {"embed_id": "still"}
    await kept_socket.disconnect()


@run_async
async def test_generate_over_the_socket_refuses_what_rest_refuses(alice, alice_api):
    """One validation for both: values of the wrong JSON type are refused, not coerced."""
    comm = communicator(alice)
    assert (await comm.connect())[0]
    cases = [
        ({"prompt": ["x"]}, "invalid_value", "prompt"),
        ({"prompt": 12345}, "invalid_value", "prompt"),
        ({"prompt": {"a": 1}}, "invalid_value", "prompt"),
        ({"prompt": True}, "invalid_value", "prompt"),
        ({"prompt": "x", "aspect_ratio": 1}, "invalid_value", "aspect_ratio"),
        ({"prompt": "x", "model": 7}, "invalid_value", "model"),
        ({"prompt": "p" * 5000}, "value_too_long", "prompt"),
        ({}, "missing_field", "prompt"),
    ]
    for body, code, field in cases:
        rest = await sync_to_async(alice_api.post)("/v1/apps/images/generate", body, format="json")
        assert rest.status_code == 400 and rest.json()["error"]["code"] == code, (body, rest.json())
        await comm.send_json_to({"type": "generate", "request_id": "q", **body})
        reply = await comm.receive_json_from(timeout=10)
        assert reply["type"] == "error", (body, reply)
        assert (reply["error"]["code"], reply["error"]["field"]) == (code, field), (body, reply)
    await comm.send_to(text_data='{"type": "generate", "prompt": NaN}')
    reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "error" and reply["error"]["code"] == "invalid_json"
    await comm.disconnect()


def _raw_socket_request(base: str, key: str, frame: dict) -> None:
    """Open /ws/ over a bare TCP socket, send one text frame, and drop the connection without
    a close frame or reading the answer (as a closed laptop does)."""
    import base64
    import os
    import socket as sockets
    import struct
    from urllib.parse import urlsplit

    url = urlsplit(base)
    sock = sockets.create_connection((url.hostname, url.port), timeout=5)
    handshake = (
        f"GET /ws/ HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {key}\r\n\r\n"
    )
    sock.sendall(handshake.encode())
    assert b" 101 " in sock.recv(4096).split(b"\r\n", 1)[0]
    payload, mask = json.dumps(frame).encode(), os.urandom(4)
    header = (
        struct.pack("!BBH", 0x81, 0x80 | 126, len(payload))
        if len(payload) > 125
        else bytes([0x81, 0x80 | len(payload)])
    )
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    sock.setsockopt(sockets.SOL_SOCKET, sockets.SO_LINGER, struct.pack("ii", 1, 0))  # RST, at once
    sock.close()


def test_a_client_leaving_mid_request_is_no_error_in_the_log(embedded_server):  # noqa: F811
    """A real server (uvicorn): the client sends a request and drops the connection before the
    answer; the server logs that at INFO, with no ERROR and no traceback."""
    import time

    base, key, data_dir = embedded_server
    for n in range(5):
        _raw_socket_request(base, key, {"type": "generate", "request_id": str(n), "prompt": f"gone {n}"})
    time.sleep(3)
    log = (data_dir.parent / "server.log").read_text()
    assert "generation.task.created" in log  # the requests arrived
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]


async def _reply(comm, request_id: str) -> dict:
    reply: dict = {}
    while reply.get("request_id") != request_id:
        reply = await comm.receive_json_from(timeout=10)
    return reply


@run_async
async def test_regenerate_over_the_socket_is_one_exchange_and_keeps_a_pinned_seed(alice, bob):
    """The viewer's Regenerate: the server runs the image's own request again (a pinned seed stays)
    and writes the request and its result into the chat in one step; someone else's image is 404
    and leaves nothing behind."""
    from chats.models import Chat, Message
    from embeds.sealing import open_embed
    from generation.actions import GenerationParams, check_create_generation
    from generation.models import Task
    from generation.registry import default_model

    def made(seed):
        task, _ = check_create_generation(
            alice,
            GenerationParams(prompt="a pinned kite", aspect_ratio="1:1", model=default_model(), seed=seed),
        )
        return str(task.embed_id)

    pinned = await sync_to_async(made)(4321)
    comm = communicator(alice)
    await comm.connect()
    await comm.send_json_to({"type": "regenerate", "request_id": "r1", "embed_id": pinned})
    reply = await _reply(comm, "r1")
    assert reply["type"] == "embed_created", reply
    new_embed = reply["payload"]["embed_id"]
    assert new_embed != pinned and reply["message"]["embeds"][0]["embed_id"] == new_embed

    def exchange():
        messages = list(Message.objects.filter(chat_id=reply["message"]["chat_id"]).order_by("created_at"))
        return [m.role for m in messages], Task.objects.get(embed_id=new_embed).kind

    roles, kind = await sync_to_async(exchange)()
    assert roles == ["user", "assistant"] and kind == Task.Kind.GENERATE
    content = await sync_to_async(lambda: open_embed(Task.objects.get(embed_id=new_embed).embed).content())()
    assert content.seed == 4321 and content.prompt == "a pinned kite"

    intruder = communicator(bob)
    await intruder.connect()
    counts = await sync_to_async(lambda: (Chat.objects.count(), Task.objects.count()))()
    await intruder.send_json_to({"type": "regenerate", "request_id": "r2", "embed_id": pinned})
    refused = await _reply(intruder, "r2")
    assert refused["type"] == "error" and refused["error"]["code"] == "not_found", refused
    assert await sync_to_async(lambda: (Chat.objects.count(), Task.objects.count()))() == counts
    await comm.disconnect()
    await intruder.disconnect()


def _send_from_a_plain_thread(user_id: int, count: int) -> None:
    """As a Dramatiq worker thread sends: no event loop of its own, so through events' send loop."""
    import threading

    def send_all() -> None:
        for index in range(count):
            send_to_user(user_id, EMBED_UPDATE, {"embed_id": f"n{index}"})

    thread = threading.Thread(target=send_all)
    thread.start()
    thread.join()


@run_async
async def test_sends_from_worker_threads_arrive_in_order_and_survive_a_fork(alice):
    """One long-lived loop sends every notification of a process, in order; a forked child (a
    worker process) gets a loop of its own instead of a dead thread's."""
    import os

    from core import realtime as events

    comm = communicator(alice)
    assert (await comm.connect())[0]
    await sync_to_async(_send_from_a_plain_thread)(alice.pk, 20)
    received = [(await comm.receive_json_from(timeout=5))["payload"]["embed_id"] for _ in range(20)]
    assert received == [f"n{index}" for index in range(20)]
    loop = events._send_loop._loop
    assert loop is not None and loop.is_running()

    child = os.fork()
    if child == 0:  # the child sends one event itself and reports through its exit code
        try:
            events.send_to_user(alice.pk, EMBED_UPDATE, {"embed_id": "from-child"})
            os._exit(0 if events._send_loop._loop is not loop else 1)
        except BaseException:
            os._exit(2)
    _, status = await sync_to_async(os.waitpid)(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (await comm.receive_json_from(timeout=5))["payload"] == {"embed_id": "from-child"}
    await comm.disconnect()


async def _answer(comm, request_id: str) -> dict:
    reply = None
    while reply is None or reply.get("request_id") != request_id:
        reply = await comm.receive_json_from(timeout=10)
    return reply


@run_async
async def test_variants_from_the_socket_are_one_reply_holding_every_embed(alice):
    from chats.models import Chat, Message

    comm = communicator(alice)
    await comm.connect()
    await comm.send_json_to({"type": "generate", "request_id": "g", "prompt": "a violet kite", "n": 3})
    reply = await _answer(comm, "g")
    assert reply["type"] == "embed_created"
    variants = reply["payload"]["variants"]
    assert len(variants) == 3 and reply["payload"]["embed_id"] == variants[0]["embed_id"]
    assert [e["embed_id"] for e in reply["message"]["embeds"]] == [v["embed_id"] for v in variants]

    # The composer's Enter (a "message" frame) takes n as generate does, into the same chat.
    chat_id = reply["message"]["chat_id"]
    await comm.send_json_to(
        {"type": "message", "request_id": "m", "chat_id": chat_id, "text": "a red apple", "n": 2}
    )
    reply = await _answer(comm, "m")
    assert len(reply["message"]["embeds"]) == len(reply["payload"]["variants"]) == 2

    for frame in (
        {"type": "generate", "prompt": "x", "n": 5},
        {"type": "message", "text": "x", "n": 0},
        {"type": "generate", "prompt": "x", "n": "2"},
    ):
        await comm.send_json_to({"request_id": "bad", **frame})
        error = await _answer(comm, "bad")
        assert error["type"] == "error" and error["error"]["field"] == "n", error
    assert await sync_to_async(Chat.objects.count)() == 1
    assert await sync_to_async(Message.objects.count)() == 4
    await comm.disconnect()


@run_async
async def test_references_from_the_socket_are_the_users_own_images_only(alice, bob):
    from tests.factories import UploadedImageFactory

    mine = await sync_to_async(UploadedImageFactory)(owner=alice)
    bobs = await sync_to_async(UploadedImageFactory)(owner=bob)
    comm = communicator(alice)
    await comm.connect()
    frames = {
        "ok": {"type": "generate", "prompt": "a cat", "reference_embed_ids": [str(mine.id)]},
        "foreign": {"type": "generate", "prompt": "a cat", "reference_embed_ids": [str(bobs.id)]},
        "edit": {
            "type": "edit",
            "embed_id": str(mine.id),
            "prompt": "x",
            "reference_embed_ids": [str(bobs.id)],
        },
    }
    for request_id, frame in frames.items():
        await comm.send_json_to({"request_id": request_id, **frame})
    assert (await _answer(comm, "ok"))["type"] == "embed_created"
    for request_id in ("foreign", "edit"):
        error = (await _answer(comm, request_id))["error"]
        assert (error["code"], error["field"]) == ("not_found", "reference_embed_ids"), error
    await comm.disconnect()
