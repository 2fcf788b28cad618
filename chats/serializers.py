"""The output shapes of chats and messages: each one serializer, which both renders the JSON
(REST and the socket's replies) and describes it in the OpenAPI schema.

Titles and texts are ciphertext in the database, so the serializers render a row that holds the
decrypted text (``ChatRow``, ``MessageRow``); the reads in ``access.py`` build those with one
keyring round trip for a whole list."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from rest_framework import serializers

from core.schema import IsoDateTimeField


@dataclass(frozen=True)
class ChatRow:
    chat_id: uuid.UUID
    title: str
    updated_at: datetime
    cover_embed_id: uuid.UUID | None = None


@dataclass(frozen=True)
class MessageEmbedRow:
    embed_id: uuid.UUID
    type: str
    status: str
    parent_id: uuid.UUID | None = None
    root_id: uuid.UUID | None = None
    version_kind: str = ""
    version_count: int = 0


@dataclass(frozen=True)
class MessageRow:
    message_id: uuid.UUID
    chat_id: uuid.UUID
    role: str
    text: str
    embeds: list[MessageEmbedRow]
    created_at: datetime


class ChatSerializer(serializers.Serializer):
    chat_id = serializers.UUIDField()
    title = serializers.CharField(allow_blank=True)
    updated_at = IsoDateTimeField()


class ChatListItemSerializer(ChatSerializer):
    cover_embed_id = serializers.UUIDField(
        allow_null=True, help_text="The chat's newest finished image, for a thumbnail."
    )


class MessageEmbedSerializer(serializers.Serializer):
    embed_id = serializers.UUIDField()
    type = serializers.CharField()
    status = serializers.CharField()
    # An image's place in its lineage, as GET /v1/embeds/{id}/content gives it (blank and 0 for
    # search results and analyses, which have none).
    parent_id = serializers.UUIDField(allow_null=True)
    root_id = serializers.UUIDField(allow_null=True)
    version_kind = serializers.CharField(allow_blank=True)
    version_count = serializers.IntegerField()


class MessageSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    chat_id = serializers.UUIDField()
    role = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    embeds = MessageEmbedSerializer(many=True)
    created_at = IsoDateTimeField()
