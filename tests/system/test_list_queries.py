"""Every list endpoint reads in a fixed number of queries, and a list that decrypts does so with
one keyring round trip: N items (N ≥ 5) cost what one costs, so an N+1 fails here.

The lists (from the URL maps): GET /v1/chats, GET /v1/chats/{id}/messages, GET /v1/shares,
GET /v1/apps/images/models, GET /v1/apps/images/analyze/models, and the settings page (keys and
links). Each is asked once before it is counted, so the API-key lookup (cached per process) is
the same in every counted request."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from chats.actions import do_create_chat, do_post_message
from embeds.actions import do_create_upload_embed
from sharing import actions as sharing_actions

pytestmark = pytest.mark.django_db

N = 5


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def image(alice):
    return do_create_upload_embed(alice, _png(), file_name="a.png")


def _get(client, url: str) -> object:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()


def _counted(client, url: str, assert_queries, expected: int) -> object:
    _get(client, url)  # warm: the API key's lookup is cached from here on
    with assert_queries(expected):
        return _get(client, url)


def test_chat_list(alice, alice_api, image, django_assert_num_queries):
    for index in range(N):
        chat = do_create_chat(alice, title=f"chat {index}")
        do_post_message(chat, text="look", embed_ids=[image.id])
    body = _counted(alice_api, "/v1/chats", django_assert_num_queries, 1)
    assert len(body) == N and {c["cover_embed_id"] for c in body} == {str(image.id)}
    assert sorted(c["title"] for c in body) == [f"chat {i}" for i in range(N)]


def test_message_list(alice, alice_api, image, django_assert_num_queries):
    chat = do_create_chat(alice, title="many")
    for index in range(N):
        do_post_message(chat, text=f"message {index}", embed_ids=[image.id])
    body = _counted(alice_api, f"/v1/chats/{chat.id}/messages", django_assert_num_queries, 4)
    assert [m["text"] for m in body] == [f"message {i}" for i in range(N)]
    image_id = str(image.id)
    shown = {"embed_id": image_id, "type": "image", "status": "finished", "parent_id": None}
    shown.update(root_id=image_id, version_kind="uploaded", version_count=1)  # counted in the same query
    assert all(m["embeds"] == [shown] for m in body)


def test_share_list(alice, alice_api, image, django_assert_num_queries):
    for _ in range(N):
        sharing_actions.do_create_share(
            alice, image, b"OMS1" + os.urandom(64), expires_in=None, lock=None, include_prompt=True
        )
    body = _counted(alice_api, "/v1/shares", django_assert_num_queries, 2)
    assert len(body["shares"]) == N
    filtered = _counted(alice_api, f"/v1/shares?embed_id={image.id}", django_assert_num_queries, 3)
    assert len(filtered["shares"]) == N


@pytest.mark.parametrize("url", ["/v1/apps/images/models", "/v1/apps/images/analyze/models"])
def test_model_lists(alice_api, url, django_assert_max_num_queries):
    """The models come from the registry (no rows): only the request's own queries."""
    body = _counted(alice_api, url, django_assert_max_num_queries, 2)
    assert len(body["models"]) >= 2


def test_a_chat_list_of_ten_chats_is_one_vault_round_trip(alice, alice_api, vault_server):
    for index in range(10):
        do_create_chat(alice, title=f"chat {index}")
    _get(alice_api, "/v1/chats")
    before = len(vault_server.requests)
    body = _get(alice_api, "/v1/chats")
    assert len(body) == 10
    assert vault_server.requests[before:] == [f"POST /v1/transit/decrypt/openmates-user-user-{alice.pk}"]


def test_settings_page_lists_keys_and_links(alice, image, client, django_assert_num_queries):
    """The settings page (HTML) lists the user's API keys and share links."""
    from accounts.api_keys import do_create_api_key

    for _ in range(N):
        do_create_api_key(alice)
        sharing_actions.do_create_share(
            alice, image, b"OMS1" + os.urandom(64), expires_in=None, lock=None, include_prompt=True
        )
    client.force_login(alice)
    assert client.get("/settings/").status_code == 200
    with django_assert_num_queries(6):
        response = client.get("/settings/")
    assert response.status_code == 200
