"""Questions about images over the WebSocket (``{"type": "analyze"}``) and in the chat: the
question as the user's message, the answer as the assistant's reply, streamed to every tab."""

from __future__ import annotations

import io

import pytest
from asgiref.sync import sync_to_async
from PIL import Image

from chats.access import chat_messages
from chats.models import Chat, Message
from embeds.models import Embed
from generation.models import Task
from tests.chats.test_consumers import communicator, run_async

pytestmark = pytest.mark.django_db(transaction=True)


def _upload(user) -> Embed:
    from embeds.actions import do_create_upload_embed

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 200, 30)).save(buffer, "PNG")
    return do_create_upload_embed(user, buffer.getvalue(), file_name="sign.png")


async def _reply(comm, request_id: str) -> dict:
    reply: dict | None = None
    while reply is None or reply.get("request_id") != request_id:
        reply = await comm.receive_json_from(timeout=15)
    return reply


@run_async
async def test_ask_over_the_socket_answers_in_the_chat_and_streams_to_every_tab(alice, worker):
    source = await sync_to_async(_upload)(alice)
    annotated = await sync_to_async(_upload)(alice)
    tabs = [communicator(alice), communicator(alice)]
    for tab in tabs:
        await tab.connect()
    region = {"shapes": [{"type": "freehand", "points": [[10, 10], [60, 12], [58, 50], [12, 48], [10, 12]]}]}
    await tabs[0].send_json_to(
        {
            "type": "analyze",
            "request_id": "q1",
            "question": "What is circled?",
            "embed_id": str(source.id),
            "region": region,
            "embed_ids": [str(annotated.id)],
        }
    )
    reply = await _reply(tabs[0], "q1")
    assert reply["type"] == "embed_created", reply
    assert reply["payload"]["kind"] == "analyze"
    assert reply["message"]["role"] == "assistant"
    # The reply is read after the commit that queues the answer; the worker may finish first.
    [listed] = reply["message"]["embeds"]
    assert listed["embed_id"] == reply["payload"]["embed_id"] and listed["type"] == "image_analysis"
    assert listed["status"] in {"processing", "finished"}
    # Both tabs see the answer grow and the task end.
    for tab in tabs:
        text, status = "", None
        while status != "completed":
            event = await tab.receive_json_from(timeout=15)
            if event["type"] == "analysis_delta":
                assert event["payload"]["embed_id"] == reply["payload"]["embed_id"]
                text = event["payload"]["text"]
            elif event["type"] == "embed_update" and event["payload"]["kind"] == "analyze":
                status = event["payload"]["status"]
        assert "vision model" in text and "A closed freehand loop" in text
        await tab.disconnect()

    chat = await sync_to_async(Chat.objects.get)(owner=alice)
    messages = await sync_to_async(chat_messages)(chat)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["text"] == "What is circled?"
    assert [e["embed_id"] for e in messages[0]["embeds"]] == [str(annotated.id)]
    assert messages[1]["embeds"][0]["type"] == "image_analysis"


@run_async
async def test_a_refused_question_leaves_no_chat_and_no_task(alice, bob):
    theirs = await sync_to_async(_upload)(bob)
    mine = await sync_to_async(_upload)(alice)
    comm = communicator(alice)
    await comm.connect()
    cases = [
        ({"embed_id": str(theirs.id), "question": "What?"}, "not_found"),
        ({"embed_id": str(mine.id)}, "missing_field"),
        (
            {
                "embed_id": str(mine.id),
                "question": "What?",
                "region": {"shapes": [{"type": "rectangle", "x": 300, "y": 0, "width": 50, "height": 5}]},
            },
            "invalid_value",
        ),
    ]
    for index, (frame, code) in enumerate(cases):
        await comm.send_json_to({"type": "analyze", "request_id": f"b{index}", **frame})
        reply = await _reply(comm, f"b{index}")
        assert reply["type"] == "error" and reply["error"]["code"] == code, reply
    await comm.disconnect()
    assert not await sync_to_async(Chat.objects.exists)()
    assert not await sync_to_async(Message.objects.exists)()
    assert not await sync_to_async(Task.objects.exists)()
