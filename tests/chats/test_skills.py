"""The viewer's chat skills written by the server: edit, reverse search, report (with its
regeneration), crop and a plain message, each one exchange (the request and the reply with its
embed) written with its task in one transaction, over REST (``chat_id``) and the socket. A refused
request writes nothing into the chat; someone else's chat answers 404 like a missing one."""

from __future__ import annotations

import base64
import io
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing.websocket import WebsocketCommunicator
from PIL import Image

from chats.access import chat_messages
from chats.actions import do_create_chat
from chats.models import Chat, Message
from embeds.models import Embed
from generation.models import ImageReport, Task
from tests.chats.test_api import _upload
from tests.conftest import wait_for_task
from tests.generation.test_reverse_search import serpapi  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def _exchange(chat: Chat) -> list[tuple[str, str, list[str]]]:
    return [
        (m["role"], m["text"], [e["embed_id"] for e in m["embeds"]])
        for m in chat_messages(Chat.objects.get(pk=chat.pk))
    ]


def _mask(width: int = 64, height: int = 48) -> str:
    mask = Image.new("L", (width, height))
    mask.paste(255, (0, 0, width // 2, height))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _generated(client) -> str:
    """A finished generated image (a worker must be running)."""
    task = client.post("/v1/apps/images/generate", {"prompt": "a red kite"}, format="json").json()
    assert wait_for_task(client, task["task_id"])["status"] == "completed"
    return task["embed_id"]


def _socket(user, frames: list[dict]) -> list[dict]:
    """Send each frame through the real consumer and collect the reply to each."""
    from chats.consumers import UserEventsConsumer

    async def scenario():
        comm = WebsocketCommunicator(UserEventsConsumer.as_asgi(), "/ws/")
        comm.scope["user"] = user
        assert (await comm.connect())[0]
        replies = []
        for index, frame in enumerate(frames):
            await comm.send_json_to({**frame, "request_id": f"q{index}"})
            reply: dict = {}
            while reply.get("request_id") != f"q{index}":
                reply = await comm.receive_json_from(timeout=20)
            replies.append(reply)
        await comm.disconnect()
        return replies

    return async_to_sync(scenario)()


# --- edit ------------------------------------------------------------------------------------


def test_rest_edit_with_a_chat_writes_the_exchange_with_the_task(alice, alice_api):
    source = _upload(alice_api)
    chat = do_create_chat(alice)
    body = {"embed_id": source, "prompt": "make it glow", "mask": _mask(), "chat_id": str(chat.id)}
    response = alice_api.post("/v1/apps/images/edit", body, format="json", HTTP_IDEMPOTENCY_KEY="e-1")
    assert response.status_code == 202, response.content
    task = response.json()
    assert _exchange(chat) == [("user", "Edit: make it glow", []), ("assistant", "", [task["embed_id"]])]
    # A retried request is the same task and writes no second exchange.
    again = alice_api.post("/v1/apps/images/edit", body, format="json", HTTP_IDEMPOTENCY_KEY="e-1")
    assert again.status_code == 200 and again.json()["task_id"] == task["task_id"]
    assert len(_exchange(chat)) == 2


def test_rest_edit_refused_writes_nothing_into_the_chat(alice, alice_api):
    source = _upload(alice_api)
    chat = do_create_chat(alice)
    for body, field in (
        ({"prompt": "make it glow", "model": "high-end"}, "model"),  # its provider has no key
        ({"prompt": "make it glow", "mask": _mask(10, 10)}, "mask"),  # not the image's size
        ({"prompt": ""}, "prompt"),
    ):
        response = alice_api.post(
            "/v1/apps/images/edit", {"embed_id": source, "chat_id": str(chat.id), **body}, format="json"
        )
        assert response.status_code == 400 and response.json()["error"]["field"] == field, response.content
    assert _exchange(chat) == [] and Task.objects.filter(owner=alice).count() == 0


def test_rest_edit_into_someone_elses_chat_is_404_and_starts_nothing(alice, bob, alice_api):
    source = _upload(alice_api)
    bobs = do_create_chat(bob)
    for chat_id in (str(bobs.id), str(uuid.uuid4())):
        response = alice_api.post(
            "/v1/apps/images/edit",
            {"embed_id": source, "prompt": "make it glow", "chat_id": chat_id},
            format="json",
        )
        assert response.status_code == 404 and response.json()["error"]["field"] == "chat_id"
    bad = alice_api.post(
        "/v1/apps/images/edit", {"embed_id": source, "prompt": "x", "chat_id": "nope"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "chat_id"
    assert Task.objects.count() == 0 and bobs.messages.count() == 0


def test_socket_edit_makes_a_new_chat_with_the_exchange_and_refusals_make_none(alice, alice_api):
    source = _upload(alice_api)
    refused, made = _socket(
        alice,
        [
            {"type": "edit", "embed_id": source, "prompt": "make it glow", "model": "high-end"},
            {"type": "edit", "embed_id": source, "prompt": "make it glow", "mask": _mask()},
        ],
    )
    assert refused["type"] == "error" and refused["error"]["field"] == "model"
    assert made["type"] == "embed_created", made
    (chat,) = Chat.objects.filter(owner=alice)
    assert str(chat.id) == made["message"]["chat_id"]
    assert _exchange(chat) == [
        ("user", "Edit: make it glow", []),
        ("assistant", "", [made["payload"]["embed_id"]]),
    ]
    assert Task.objects.get(embed_id=made["payload"]["embed_id"]).kind == Task.Kind.EDIT


# --- reverse search ------------------------------------------------------------------------------


def test_rest_reverse_search_with_a_chat_by_embed_and_by_upload(alice, alice_api, serpapi):  # noqa: F811
    source = _upload(alice_api)
    chat = do_create_chat(alice)
    by_embed = alice_api.post(
        "/v1/apps/images/reverse-search", {"embed_id": source, "chat_id": str(chat.id)}, format="json"
    )
    assert by_embed.status_code == 202, by_embed.content
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (9, 9, 9)).save(buffer, "PNG")
    from django.core.files.uploadedfile import SimpleUploadedFile

    by_upload = alice_api.post(
        "/v1/apps/images/reverse-search",
        {"file": SimpleUploadedFile("b.png", buffer.getvalue()), "chat_id": str(chat.id)},
        format="multipart",
    )
    assert by_upload.status_code == 202, by_upload.content
    request = ("user", "Find similar images on the web", [])
    assert _exchange(chat) == [
        request,
        ("assistant", "", [by_embed.json()["embed_id"]]),
        request,
        ("assistant", "", [by_upload.json()["embed_id"]]),
    ]


def test_rest_reverse_search_refused_or_foreign_chat_writes_nothing(alice, bob, alice_api):
    source = _upload(alice_api)
    chat = do_create_chat(alice)
    # SerpApi is not configured here: refused before anything is made, the chat untouched.
    refused = alice_api.post(
        "/v1/apps/images/reverse-search", {"embed_id": source, "chat_id": str(chat.id)}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "provider_unavailable"
    foreign = alice_api.post(
        "/v1/apps/images/reverse-search",
        {"embed_id": source, "chat_id": str(do_create_chat(bob).id)},
        format="json",
    )
    assert foreign.status_code == 404 and foreign.json()["error"]["field"] == "chat_id"
    assert _exchange(chat) == [] and Task.objects.count() == 0
    assert Message.objects.count() == 0


def test_socket_reverse_search_is_one_exchange_in_a_new_chat(alice, alice_api, serpapi):  # noqa: F811
    source = _upload(alice_api)
    (reply,) = _socket(alice, [{"type": "reverse_search", "embed_id": source}])
    assert reply["type"] == "embed_created", reply
    chat = Chat.objects.get(owner=alice)
    assert _exchange(chat) == [
        ("user", "Find similar images on the web", []),
        ("assistant", "", [reply["payload"]["embed_id"]]),
    ]
    assert Embed.objects.get(pk=reply["payload"]["embed_id"]).type == Embed.Type.IMAGE_SEARCH_RESULTS


def test_socket_reverse_search_refused_leaves_no_chat(alice, alice_api):
    source = _upload(alice_api)
    (reply,) = _socket(alice, [{"type": "reverse_search", "embed_id": source}])
    assert reply["type"] == "error" and reply["error"]["code"] == "provider_unavailable"
    assert Chat.objects.count() == 0 and Task.objects.count() == 0


# --- report --------------------------------------------------------------------------------------


def test_rest_report_with_regeneration_is_one_exchange(alice, bob, alice_api, worker):
    made = _generated(alice_api)
    chat = do_create_chat(alice)
    foreign = alice_api.post(
        f"/v1/embeds/{made}/report",
        {"reason": "artifacts", "regenerate": True, "chat_id": str(do_create_chat(bob).id)},
        format="json",
    )
    assert foreign.status_code == 404 and foreign.json()["error"]["field"] == "chat_id"
    assert ImageReport.objects.count() == 0 and Task.objects.count() == 1
    only = alice_api.post(
        f"/v1/embeds/{made}/report", {"reason": "offensive", "chat_id": str(chat.id)}, format="json"
    )
    assert only.status_code == 204 and _exchange(chat) == []  # a report alone is not a message
    again = alice_api.post(
        f"/v1/embeds/{made}/report",
        {"reason": "wrong_content", "regenerate": True, "chat_id": str(chat.id)},
        format="json",
    )
    assert again.status_code == 202, again.content
    assert _exchange(chat) == [
        ("user", "Reported a problem (not what I asked for) — generate it again", []),
        ("assistant", "", [again.json()["embed_id"]]),
    ]


def test_report_refused_regeneration_writes_nothing(alice, alice_api):
    upload = _upload(alice_api)  # no provider made it: nothing to generate again
    chat = do_create_chat(alice)
    response = alice_api.post(
        f"/v1/embeds/{upload}/report",
        {"reason": "artifacts", "regenerate": True, "chat_id": str(chat.id)},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "regenerate"
    (reply,) = _socket(alice, [{"type": "report", "embed_id": upload, "reason": "other", "regenerate": True}])
    assert reply["type"] == "error" and reply["error"]["field"] == "regenerate"
    assert _exchange(chat) == [] and Chat.objects.count() == 1 and ImageReport.objects.count() == 0


def test_socket_report_regenerates_into_a_new_chat_or_only_records(alice, alice_api, worker):
    made = _generated(alice_api)
    recorded, regenerated = _socket(
        alice,
        [
            {"type": "report", "embed_id": made, "reason": "offensive"},
            {"type": "report", "embed_id": made, "reason": "artifacts", "regenerate": True},
        ],
    )
    assert recorded == {"type": "done", "request_id": "q0", "payload": None, "message": None}
    assert regenerated["type"] == "embed_created", regenerated
    chat = Chat.objects.get(owner=alice)  # only the regeneration made a chat
    assert _exchange(chat) == [
        ("user", "Reported a problem (artifacts) — generate it again", []),
        ("assistant", "", [regenerated["payload"]["embed_id"]]),
    ]
    assert ImageReport.objects.count() == 2


# --- crop and a plain message ------------------------------------------------------------------


def test_socket_crop_is_one_exchange_and_a_bad_rectangle_writes_nothing(alice, bob, alice_api):
    source = _upload(alice_api)  # 64×48
    chat = do_create_chat(alice)
    outside, foreign, bad_ratio, cropped = _socket(
        alice,
        [
            {"type": "crop", "embed_id": source, "x": 40, "y": 0, "width": 40, "height": 40},
            {"type": "crop", "embed_id": source, "x": 0, "y": 0, "width": 40, "height": 40,
             "chat_id": str(do_create_chat(bob).id)},
            {"type": "crop", "embed_id": source, "x": 0, "y": 0, "width": 40, "height": 40, "ratio": "2:1"},
            {"type": "crop", "embed_id": source, "x": 0, "y": 0, "width": 40, "height": 40, "ratio": "1:1",
             "chat_id": str(chat.id)},
        ],
    )  # fmt: skip
    assert outside["type"] == "error" and outside["error"]["field"] == "rect"
    assert foreign["type"] == "error" and foreign["error"]["code"] == "not_found"
    assert bad_ratio["type"] == "error" and bad_ratio["error"]["field"] == "ratio"
    assert cropped["type"] == "embed_created", cropped
    assert _exchange(chat) == [
        ("user", "Crop (1:1)", []),
        ("assistant", "", [cropped["payload"]["embed_id"]]),
    ]
    assert Chat.objects.filter(owner=alice).count() == 1 and Embed.objects.filter(owner=alice).count() == 2


def test_socket_message_with_images_only_is_answered_in_a_new_chat(alice, bob, alice_api, bob_api):
    mine, bobs = _upload(alice_api), _upload(bob_api)
    refused, answered = _socket(
        alice, [{"type": "message", "embed_ids": [bobs]}, {"type": "message", "embed_ids": [mine]}]
    )
    assert refused["type"] == "error" and refused["error"]["code"] == "not_found"
    assert answered["type"] == "done" and answered["payload"] is None
    chat = Chat.objects.get(owner=alice)
    (request, reply) = _exchange(chat)
    assert request == ("user", "", [mine]) and reply[0] == "assistant" and "What would you like" in reply[1]


def test_socket_skills_into_someone_elses_chat_are_not_found_and_write_nothing(alice, bob, alice_api):
    source = _upload(alice_api)
    bobs = str(do_create_chat(bob).id)
    replies = _socket(
        alice,
        [
            {"type": "edit", "embed_id": source, "prompt": "make it glow", "chat_id": bobs},
            {"type": "reverse_search", "embed_id": source, "chat_id": bobs},
            {"type": "report", "embed_id": source, "reason": "other", "chat_id": bobs},
            {"type": "message", "embed_ids": [source], "chat_id": bobs},
        ],
    )
    assert [(r["type"], r["error"]["code"], r["error"]["field"]) for r in replies] == [
        ("error", "not_found", "chat_id")
    ] * 4
    assert Message.objects.count() == 0 and Task.objects.count() == 0 and ImageReport.objects.count() == 0
    assert Chat.objects.filter(owner=alice).count() == 0
