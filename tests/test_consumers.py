"""The WebSocket consumer on the real channels-redis layer: who may connect, the generate skill,
cancel, and who receives which events."""

from __future__ import annotations

import functools

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from generation.consumers import UserEventsConsumer
from generation.events import EMBED_UPDATE, send_to_user

pytestmark = pytest.mark.django_db(transaction=True)


def run_async(test):
    """Run an async test body in one event loop (no pytest-asyncio needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return async_to_sync(test)(*args, **kwargs)

    return wrapper


def communicator(user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(UserEventsConsumer.as_asgi(), "/ws/")
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
    comm = WebsocketCommunicator(
        application, "/ws/", headers=[(b"cookie", cookie), (b"origin", b"http://localhost")]
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


@run_async
async def test_a_foreign_origin_is_refused(alice):
    from django.test import Client

    from openmates_images.asgi import application

    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    comm = WebsocketCommunicator(
        application, "/ws/", headers=[(b"cookie", cookie), (b"origin", b"https://evil.example")]
    )
    connected, _ = await comm.connect()
    assert not connected


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

    comm = WebsocketCommunicator(
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
        _, connected, code = await _bearer_socket(key, [cookie, (b"origin", b"http://localhost")])
        assert not connected and code == 4401


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

    from generation import events

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
