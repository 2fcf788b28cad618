"""Chats and messages over REST: per-user isolation, cross-chat references, ciphertext at rest."""

from __future__ import annotations

import pytest
from django.db import connection

from chats.models import Chat, MessageEmbed

pytestmark = pytest.mark.django_db


def _upload(client) -> str:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 100, 200)).save(buffer, "PNG")
    response = client.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("a.png", buffer.getvalue())}, format="multipart"
    )
    return response.json()["embed_id"]


def test_chat_messages_round_trip_and_titles(alice_api):
    chat = alice_api.post("/v1/chats", {}, format="json").json()
    embed_id = _upload(alice_api)
    message = alice_api.post(
        f"/v1/chats/{chat['chat_id']}/messages",
        {"text": "Look at my zeppelin photo", "embed_ids": [embed_id]},
        format="json",
    )
    assert message.status_code == 201, message.content
    listed = alice_api.get(f"/v1/chats/{chat['chat_id']}/messages").json()
    assert listed[0]["text"] == "Look at my zeppelin photo"
    assert listed[0]["embeds"] == [
        {
            "embed_id": embed_id,
            "type": "image",
            "status": "finished",
            "parent_id": None,
            "root_id": embed_id,
            "version_kind": "uploaded",
            "version_count": 1,
        }
    ]
    chats = alice_api.get("/v1/chats").json()
    assert chats[0]["title"] == "Look at my zeppelin photo"
    renamed = alice_api.patch(f"/v1/chats/{chat['chat_id']}", {"title": "Airships"}, format="json").json()
    assert renamed["title"] == "Airships"


def test_one_embed_in_several_chats_without_copies(alice_api):
    embed_id = _upload(alice_api)
    for _ in range(2):
        chat = alice_api.post("/v1/chats", {}, format="json").json()
        alice_api.post(f"/v1/chats/{chat['chat_id']}/messages", {"embed_ids": [embed_id]}, format="json")
    assert MessageEmbed.objects.filter(embed_id=embed_id).count() == 2
    from embeds.models import Embed

    assert Embed.objects.count() == 1


def test_titles_and_texts_are_ciphertext_at_rest(alice_api):
    chat = alice_api.post("/v1/chats", {"title": "Secret zeppelin plans"}, format="json").json()
    alice_api.post(
        f"/v1/chats/{chat['chat_id']}/messages", {"text": "zeppelin over the harbour"}, format="json"
    )
    with connection.cursor() as cursor:
        for table in ("chats_chat", "chats_message"):
            cursor.execute(f"SELECT * FROM {table}")
            assert "zeppelin" not in repr(cursor.fetchall()).lower()


def test_isolation_between_users(alice_api, bob_api):
    chat = alice_api.post("/v1/chats", {}, format="json").json()
    alice_embed = _upload(alice_api)
    assert bob_api.get(f"/v1/chats/{chat['chat_id']}/messages").status_code == 404
    assert (
        bob_api.post(f"/v1/chats/{chat['chat_id']}/messages", {"text": "hi"}, format="json").status_code
        == 404
    )
    assert bob_api.delete(f"/v1/chats/{chat['chat_id']}").status_code == 404
    assert bob_api.get("/v1/chats").json() == []
    bob_chat = bob_api.post("/v1/chats", {}, format="json").json()
    response = bob_api.post(
        f"/v1/chats/{bob_chat['chat_id']}/messages", {"embed_ids": [alice_embed]}, format="json"
    )
    assert response.status_code == 404 and response.json()["error"]["field"] == "embed_ids"
    assert Chat.objects.filter(owner__username="alice").count() == 1


def test_bad_message_input(alice_api):
    chat = alice_api.post("/v1/chats", {}, format="json").json()
    response = alice_api.post(f"/v1/chats/{chat['chat_id']}/messages", {"embed_ids": ["nope"]}, format="json")
    assert response.status_code == 400
    response = alice_api.post(f"/v1/chats/{chat['chat_id']}/messages", {"txt": "typo"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_field"
    for empty in ({}, {"text": "  ", "embed_ids": []}):  # nothing to show: refused, not stored
        response = alice_api.post(f"/v1/chats/{chat['chat_id']}/messages", empty, format="json")
        assert response.status_code == 400 and response.json()["error"]["field"] == "text", response.content
    assert alice_api.get(f"/v1/chats/{chat['chat_id']}/messages").json() == []


def test_assistant_role_for_results(alice_api):
    chat = alice_api.post("/v1/chats", {}, format="json").json()
    embed_id = _upload(alice_api)
    posted = alice_api.post(
        f"/v1/chats/{chat['chat_id']}/messages", {"role": "assistant", "embed_ids": [embed_id]}, format="json"
    )
    assert posted.status_code == 201 and posted.json()["role"] == "assistant"
    bad = alice_api.post(f"/v1/chats/{chat['chat_id']}/messages", {"role": "system"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "role"


# --- the "Generate image" skill: all or nothing -------------------------------------------------


def _counts(user) -> tuple[int, int, int]:
    from embeds.models import Embed
    from generation.models import Task

    return (
        Chat.objects.filter(owner=user).count(),
        Embed.objects.filter(owner=user).count(),
        Task.objects.filter(owner=user).count(),
    )


def test_generate_in_a_new_chat_stores_the_prompt_as_typed(alice):
    from chats.access import chat_messages, chat_payload
    from chats.actions import do_generate_in_chat

    payload, message = do_generate_in_chat(
        alice, None, prompt="  A lighthouse at dawn ", aspect_ratio="16:9", model=None
    )
    chat = message.chat
    request, result = chat_messages(chat)
    assert request["role"] == "user" and request["text"] == "A lighthouse at dawn"  # no "/image"
    assert result["role"] == "assistant" and result["embeds"][0]["embed_id"] == payload["embed_id"]
    assert chat_payload(chat)["title"] == "A lighthouse at dawn"
    assert _counts(alice) == (1, 1, 1)


@pytest.mark.parametrize(
    "prompt, aspect_ratio, model, field",
    [
        ("", "1:1", None, "prompt"),
        ("   ", "1:1", None, "prompt"),
        ("a kite", "7:3", None, "aspect_ratio"),
        ("a kite", "1:1", "high-end", "model"),  # known but its provider is not configured
        ("a kite", "1:1", "no-such-model", "model"),
    ],
)
def test_a_refused_generate_leaves_nothing_behind(alice, prompt, aspect_ratio, model, field):
    from rest_framework.exceptions import ValidationError

    from chats.actions import do_generate_in_chat
    from core.errors import ApiError

    # No chat yet (the first request of a new chat): it is made in the generation's transaction.
    with pytest.raises((ValidationError, ApiError)) as caught:
        do_generate_in_chat(alice, None, prompt=prompt, aspect_ratio=aspect_ratio, model=model)
    detail = getattr(caught.value, "detail", None)
    assert field in (detail if isinstance(detail, dict) else {getattr(caught.value, "field", None): 1})
    assert _counts(alice) == (0, 0, 0)


def test_a_refused_generate_keeps_an_existing_chat(alice):
    from chats.actions import do_generate_in_chat, do_post_message
    from chats.models import Chat as ChatModel
    from core.errors import ApiError

    chat = ChatModel.objects.get(pk=alice_chat(alice).pk)  # a fresh instance: not "made for this request"
    with pytest.raises(ApiError):
        do_generate_in_chat(alice, chat, prompt="a kite", aspect_ratio="1:1", model="high-end")
    assert ChatModel.objects.filter(pk=chat.pk).exists() and chat.messages.count() == 0
    do_post_message(chat, text="hello")
    with pytest.raises(ApiError):
        do_generate_in_chat(alice, chat, prompt="a kite", aspect_ratio="1:1", model="high-end")
    assert chat.messages.count() == 1


def alice_chat(user):
    from chats.actions import do_create_chat

    return do_create_chat(user, title="Kept")


def test_generate_with_someone_elses_attachment_creates_nothing(alice, bob, bob_api):
    from chats.actions import do_generate_in_chat
    from core.errors import ApiError

    bobs = _upload(bob_api)
    with pytest.raises(ApiError) as caught:
        do_generate_in_chat(alice, None, prompt="a kite", aspect_ratio="1:1", model=None, embed_ids=[bobs])
    assert caught.value.field == "embed_ids"
    assert _counts(alice) == (0, 0, 0)  # the placeholder and the task were rolled back too


def test_generate_with_attachments_puts_them_on_the_request(alice, alice_api):
    from chats.access import chat_messages
    from chats.actions import do_generate_in_chat

    mine = _upload(alice_api)
    _, message = do_generate_in_chat(
        alice, None, prompt="like this, but blue", aspect_ratio="1:1", model=None, embed_ids=[mine]
    )
    request, _ = chat_messages(message.chat)
    assert [e["embed_id"] for e in request["embeds"]] == [mine]


@pytest.mark.django_db(transaction=True)
def test_socket_generate_refusals_leave_no_empty_chat(alice):
    """Through the real consumer (which makes the chat first when none is named)."""
    from asgiref.sync import async_to_sync
    from channels.testing.websocket import WebsocketCommunicator

    from chats.consumers import UserEventsConsumer

    async def scenario():
        comm = WebsocketCommunicator(UserEventsConsumer.as_asgi(), "/ws/")
        comm.scope["user"] = alice
        assert (await comm.connect())[0]
        replies = []
        for index, message in enumerate(
            (
                {"type": "generate", "prompt": ""},
                {"type": "generate", "prompt": "x", "aspect_ratio": "7:1"},
                {"type": "generate", "prompt": "x", "model": "high-end"},
                {"type": "generate", "prompt": "a violet kite"},
            )
        ):
            await comm.send_json_to({**message, "request_id": f"q{index}"})
            reply = await comm.receive_json_from(timeout=10)
            while reply.get("request_id") != f"q{index}":
                reply = await comm.receive_json_from(timeout=10)
            replies.append(reply)
        await comm.disconnect()
        return replies

    replies = async_to_sync(scenario)()
    assert [r["type"] for r in replies] == ["error", "error", "error", "embed_created"]
    assert [r["error"]["field"] for r in replies[:3]] == ["prompt", "aspect_ratio", "model"]
    chats = Chat.objects.filter(owner=alice)
    assert chats.count() == 1 and str(chats.get().id) == replies[3]["message"]["chat_id"]


@pytest.mark.django_db(transaction=True)
def test_new_messages_are_announced_to_the_owners_tabs_by_id_only(alice, bob, alice_api):
    from asgiref.sync import async_to_sync, sync_to_async
    from channels.testing.websocket import WebsocketCommunicator

    from chats.consumers import UserEventsConsumer

    async def scenario():
        tabs = []
        for user in (alice, bob):
            comm = WebsocketCommunicator(UserEventsConsumer.as_asgi(), "/ws/")
            comm.scope["user"] = user
            assert (await comm.connect())[0]
            tabs.append(comm)
        chat = (await sync_to_async(alice_api.post)("/v1/chats", {}, format="json")).json()
        posted = await sync_to_async(alice_api.post)(
            f"/v1/chats/{chat['chat_id']}/messages", {"text": "secret zeppelin"}, format="json"
        )
        event = await tabs[0].receive_json_from(timeout=10)
        nothing_for_bob = await tabs[1].receive_nothing(timeout=0.5)
        for comm in tabs:
            await comm.disconnect()
        return chat, posted.json(), event, nothing_for_bob

    chat, message, event, nothing_for_bob = async_to_sync(scenario)()
    assert event == {
        "type": "message_created",
        "payload": {"chat_id": chat["chat_id"], "message_id": message["message_id"], "role": "user"},
    }
    assert "zeppelin" not in repr(event) and nothing_for_bob


# --- a message that expects an answer (the composer's Enter) ------------------------------------


def test_a_description_sent_as_a_message_makes_an_image(alice, alice_api):
    chat = alice_api.post("/v1/chats", {}, format="json").json()
    answered = alice_api.post(
        f"/v1/chats/{chat['chat_id']}/messages",
        {"text": "draw me a red apple on a table", "reply": True, "aspect_ratio": "4:3"},
        format="json",
    )
    assert answered.status_code == 201, answered.content
    reply = answered.json()
    assert reply["role"] == "assistant" and len(reply["embeds"]) == 1
    request, result = alice_api.get(f"/v1/chats/{chat['chat_id']}/messages").json()
    assert request["role"] == "user" and request["text"] == "draw me a red apple on a table"
    assert result["message_id"] == reply["message_id"]
    content = alice_api.get(f"/v1/embeds/{reply['embeds'][0]['embed_id']}/content").json()
    assert content["prompt"] == "draw me a red apple on a table" and content["aspect_ratio"] == "4:3"
    assert _counts(alice) == (1, 1, 1)


def test_a_description_sent_as_a_message_with_n_is_one_reply_of_n_variants(alice, alice_api):
    chat = alice_api.post("/v1/chats", {}, format="json").json()
    path = f"/v1/chats/{chat['chat_id']}/messages"
    answered = alice_api.post(path, {"text": "a red apple", "reply": True, "n": 3}, format="json")
    assert answered.status_code == 201, answered.content
    reply = answered.json()
    seeds = {alice_api.get(f"/v1/embeds/{e['embed_id']}/content").json()["seed"] for e in reply["embeds"]}
    assert len(reply["embeds"]) == 3 and len(seeds) == 3 and None not in seeds
    refused = alice_api.post(path, {"text": "a pear", "reply": True, "n": 5}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "n"
    assert len(alice_api.get(path).json()) == 2  # the refused request wrote nothing


def test_a_refused_description_leaves_no_message(alice, alice_api):
    chat = alice_api.post("/v1/chats", {}, format="json").json()
    refused = alice_api.post(
        f"/v1/chats/{chat['chat_id']}/messages",
        {"text": "a kite", "reply": True, "aspect_ratio": "7:3"},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "aspect_ratio"
    assert alice_api.get(f"/v1/chats/{chat['chat_id']}/messages").json() == []
    assert _counts(alice) == (1, 0, 0)


def test_a_question_about_an_attached_image_is_answered(alice, alice_api):
    """Enter with an image attached asks about it: the reply is an image_analysis embed."""
    from chats.actions import IMAGES_WITHOUT_QUESTION_REPLY
    from generation.models import Task

    chat = alice_api.post("/v1/chats", {}, format="json").json()
    embed_id = _upload(alice_api)
    answered = alice_api.post(
        f"/v1/chats/{chat['chat_id']}/messages",
        {"text": "What is in this picture?", "embed_ids": [embed_id], "reply": True},
        format="json",
    )
    assert answered.status_code == 201, answered.content
    assert answered.json()["role"] == "assistant"
    request, reply = alice_api.get(f"/v1/chats/{chat['chat_id']}/messages").json()
    assert request["embeds"][0]["embed_id"] == embed_id and request["text"] == "What is in this picture?"
    (answer,) = reply["embeds"]
    task = Task.objects.get(embed_id=answer["embed_id"])
    assert task.kind == Task.Kind.ANALYZE and task.owner == alice
    assert not Task.objects.exclude(kind=Task.Kind.ANALYZE).filter(owner=alice).exists()  # no image made
    wordless = alice_api.post(
        f"/v1/chats/{chat['chat_id']}/messages",
        {"text": "", "embed_ids": [embed_id], "reply": True},
        format="json",
    )
    assert wordless.status_code == 201 and wordless.json()["text"] == IMAGES_WITHOUT_QUESTION_REPLY
    only_assistant = alice_api.post(
        f"/v1/chats/{chat['chat_id']}/messages",
        {"text": "x", "reply": True, "role": "assistant"},
        format="json",
    )
    assert only_assistant.status_code == 400 and only_assistant.json()["error"]["field"] == "reply"
