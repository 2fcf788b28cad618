"""Reads of chats: fetch-and-authorize, and the rows the shapes in ``serializers.py`` render.

A list decrypts with one keyring round trip (``chat_keys``: Vault's batch decrypt) and a fixed
number of queries, however many chats or messages it holds."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import OuterRef, Prefetch, Subquery, prefetch_related_objects

from core.errors import ApiError
from embeds.access import parse_uuid
from embeds.gallery import GalleryPage, gallery_page
from embeds.lineage import with_version_counts
from embeds.models import Embed

from .actions import chat_key, chat_keys, read_text, read_title
from .models import Chat, Message, MessageEmbed
from .serializers import (
    ChatListItemSerializer,
    ChatRow,
    ChatSerializer,
    MessageEmbedRow,
    MessageRow,
    MessageSerializer,
)

CHAT_LIST_MAX = 200


def access_chat(user, chat_id: object, *, field: str | None = None) -> Chat:
    chat = Chat.objects.filter(
        pk=parse_uuid(chat_id, field=field, not_found=field is None), owner=user
    ).first()
    if chat is None:
        raise ApiError("not_found", "Not found.", field=field, status_code=404)
    return chat


def chat_payload(chat: Chat, key: bytes | None = None) -> dict:
    key = key or chat_key(chat)
    return ChatSerializer(ChatRow(chat.id, read_title(chat, key), chat.updated_at)).data


def chat_list(user) -> list[dict]:
    """The user's chats, newest first, each with its newest finished image as the cover: two
    queries and one keyring round trip for up to ``CHAT_LIST_MAX`` chats."""
    newest_image = (
        MessageEmbed.objects.filter(message__chat=OuterRef("pk"))
        .filter(embed__status=Embed.Status.FINISHED, embed__type=Embed.Type.IMAGE)
        .filter(embed__encryption_mode=Embed.EncryptionMode.VAULT)  # a private image is no thumbnail
        .order_by("-message__created_at", "-position")
        .values("embed_id")[:1]
    )
    chats = list(Chat.objects.filter(owner=user).annotate(cover=Subquery(newest_image))[:CHAT_LIST_MAX])
    keys = chat_keys(chats)
    rows = [ChatRow(c.id, read_title(c, keys[c.id]), c.updated_at, c.cover) for c in chats]
    return ChatListItemSerializer(rows, many=True).data


def _message_row(message: Message, key: bytes) -> MessageRow:
    links = message.messageembed_set.all()  # prefetched with their embeds by the caller
    return MessageRow(
        message_id=message.id,
        chat_id=message.chat_id,
        role=message.role,
        text=read_text(message, key),
        embeds=[
            MessageEmbedRow(
                link.embed_id,
                link.embed.type,
                link.embed.status,
                link.embed.parent_id,
                link.embed.root_id,
                link.embed.version_kind,
                link.embed.version_count,
            )
            for link in links
        ],
        created_at=message.created_at,
    )


# A message's images with the size of each one's lineage, counted in the same query.
EMBEDS = ("messageembed_set", Prefetch("messageembed_set__embed", with_version_counts(Embed.objects.all())))


def _prefetch(messages: Iterable[Message]) -> None:
    prefetch_related_objects(list(messages), *EMBEDS)


def message_payload(message: Message, key: bytes) -> dict:
    _prefetch([message])
    return MessageSerializer(_message_row(message, key)).data


def chat_messages(chat: Chat) -> list[dict]:
    """Every message of the chat, oldest first: three queries (messages, their links, the linked
    embeds) and one key, however many messages and images."""
    key = chat_key(chat)
    messages = list(chat.messages.prefetch_related(*EMBEDS))
    return MessageSerializer([_message_row(m, key) for m in messages], many=True).data


def gallery(user, *, chat_id: object = None, **filters) -> GalleryPage:
    """The gallery's page (``embeds.gallery.gallery_page``), limited to the images of one of the
    user's chats when ``chat_id`` is given: someone else's chat answers 404 like a missing one.
    The chat's images are a subquery of the page's query, not a query of their own."""
    within = None
    if chat_id is not None:
        chat = access_chat(user, chat_id, field="chat_id")
        within = MessageEmbed.objects.filter(message__chat=chat).values("embed_id")
    return gallery_page(user, within=within, **filters)
