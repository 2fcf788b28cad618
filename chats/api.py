"""REST endpoints of chats and messages (used by the web UI; available to API clients too)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from openmates_images.api import StrictInputSerializer
from openmates_images.schema import errors

from .access import access_chat, chat_messages, chat_payload, message_payload
from .actions import TEXT_MAX, TITLE_MAX, chat_key, do_create_chat, do_post_message, do_rename_chat
from .models import Chat, Message


class ChatSerializer(serializers.Serializer):
    chat_id = serializers.UUIDField()
    title = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField()


class MessageEmbedSerializer(serializers.Serializer):
    embed_id = serializers.UUIDField()
    type = serializers.CharField()
    status = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    chat_id = serializers.UUIDField()
    role = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    embeds = MessageEmbedSerializer(many=True)
    created_at = serializers.DateTimeField()


class ChatInputSerializer(StrictInputSerializer):
    title = serializers.CharField(required=False, allow_blank=True, max_length=TITLE_MAX)


class MessageInputSerializer(StrictInputSerializer):
    # What validate() below enforces: some text that is not only whitespace, or an image.
    schema_rules = {
        "anyOf": [
            {"required": ["text"], "properties": {"text": {"pattern": r"\S"}}},
            {"required": ["embed_ids"], "properties": {"embed_ids": {"minItems": 1}}},
        ]
    }
    text = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX, default="")
    embed_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=20, default=list
    )
    role = serializers.ChoiceField(
        choices=Message.Role.choices,
        default=Message.Role.USER,
        help_text="Who the message is shown as: the user's request, or a result (an edit, a crop, "
        "a regeneration) shown on the assistant's side.",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs["text"].strip() and not attrs["embed_ids"]:
            raise serializers.ValidationError(
                {"text": serializers.ErrorDetail("Write something or attach an image.", code="blank")}
            )
        return attrs


class ChatsView(APIView):
    @extend_schema(responses={200: ChatSerializer(many=True), **errors(401)})
    def get(self, request: Request) -> Response:
        chats = Chat.objects.filter(owner=request.user)[:200]
        return Response([chat_payload(chat) for chat in chats])

    @extend_schema(request=ChatInputSerializer, responses={201: ChatSerializer, **errors(400, 401, 403)})
    def post(self, request: Request) -> Response:
        serializer = ChatInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        chat = do_create_chat(request.user, title=serializer.validated_data.get("title", ""))
        return Response(chat_payload(chat), status=status.HTTP_201_CREATED)


class ChatView(APIView):
    @extend_schema(request=ChatInputSerializer, responses={200: ChatSerializer, **errors(400, 401, 403, 404)})
    def patch(self, request: Request, chat_id: str) -> Response:
        chat = access_chat(request.user, chat_id)
        serializer = ChatInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(chat_payload(do_rename_chat(chat, serializer.validated_data.get("title", ""))))

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def delete(self, request: Request, chat_id: str) -> Response:
        access_chat(request.user, chat_id).delete()  # embeds stay: they may be referenced elsewhere
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessagesView(APIView):
    @extend_schema(responses={200: MessageSerializer(many=True), **errors(401, 404)})
    def get(self, request: Request, chat_id: str) -> Response:
        return Response(chat_messages(access_chat(request.user, chat_id)))

    @extend_schema(
        request=MessageInputSerializer, responses={201: MessageSerializer, **errors(400, 401, 403, 404)}
    )
    def post(self, request: Request, chat_id: str) -> Response:
        chat = access_chat(request.user, chat_id)
        serializer = MessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = do_post_message(chat, role=data["role"], text=data["text"], embed_ids=data["embed_ids"])
        return Response(message_payload(message, chat_key(chat)), status=status.HTTP_201_CREATED)
