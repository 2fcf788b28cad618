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
    comm = communicator(bob)
    await comm.connect()
    for message, code in (
        ({"type": "cancel", "task_id": str(task.id)}, "not_found"),
        ({"type": "generate", "prompt": ""}, "invalid_value"),
        ({"type": "generate", "prompt": "x", "aspect_ratio": "7:1"}, "invalid_value"),
        ({"type": "generate", "prompt": "x", "chat_id": "00000000-0000-0000-0000-000000000000"}, "not_found"),
        ({"type": "dance"}, "invalid_request"),
    ):
        await comm.send_json_to({**message, "request_id": "q"})
        reply = await comm.receive_json_from(timeout=10)
        while reply["type"] != "error":
            reply = await comm.receive_json_from(timeout=10)
        assert reply["error"]["code"] == code, (message, reply)
    await comm.disconnect()
