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
    assert listed[0]["embeds"] == [{"embed_id": embed_id, "type": "image", "status": "finished"}]
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
