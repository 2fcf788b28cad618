"""Reads of chats: fetch-and-authorize, and the JSON shapes the UI uses."""

from __future__ import annotations

from core.errors import ApiError
from embeds.access import parse_uuid

from .actions import chat_key, read_text, read_title
from .models import Chat, Message


def access_chat(user, chat_id: object, *, field: str | None = None) -> Chat:
    chat = Chat.objects.filter(
        pk=parse_uuid(chat_id, field=field, not_found=field is None), owner=user
    ).first()
    if chat is None:
        raise ApiError("not_found", "Not found.", field=field, status_code=404)
    return chat


def chat_payload(chat: Chat, key: bytes | None = None) -> dict:
    key = key or chat_key(chat)
    return {
        "chat_id": str(chat.id),
        "title": read_title(chat, key),
        "updated_at": chat.updated_at.isoformat(),
    }


def message_payload(message: Message, key: bytes) -> dict:
    return {
        "message_id": str(message.id),
        "chat_id": str(message.chat_id),
        "role": message.role,
        "text": read_text(message, key),
        "embeds": [
            {"embed_id": str(link.embed_id), "type": link.embed.type, "status": link.embed.status}
            for link in message.messageembed_set.select_related("embed").all()
        ],
        "created_at": message.created_at.isoformat(),
    }


def chat_messages(chat: Chat) -> list[dict]:
    key = chat_key(chat)
    return [message_payload(m, key) for m in chat.messages.prefetch_related("messageembed_set__embed")]
