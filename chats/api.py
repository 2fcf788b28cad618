"""REST endpoints of chats and messages (used by the web UI; available to API clients too)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictInputSerializer
from core.schema import errors
from embeds.gallery import KINDS, PAGE_DEFAULT, PAGE_MAX
from generation.actions import MAX_VARIANTS

from .access import access_chat, chat_list, chat_messages, chat_payload, gallery, message_payload
from .actions import (
    TEXT_MAX,
    TITLE_MAX,
    chat_key,
    do_answer_message,
    do_create_chat,
    do_post_message,
    do_rename_chat,
)
from .models import Message
from .serializers import ChatListItemSerializer, ChatSerializer, MessageSerializer


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
    reply = serializers.BooleanField(
        default=False,
        help_text="Answer the message, as the chat's Enter does: a description (no attachments) makes "
        "an image, exactly as generate does; a question about attached images gets an assistant "
        "reply saying it cannot be answered yet. The response is then the assistant's message.",
    )
    aspect_ratio = serializers.CharField(required=False, default="1:1", help_text="With reply: as generate.")
    model = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="With reply: as generate."
    )
    n = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_VARIANTS, help_text="With reply: as generate."
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["reply"] and attrs["role"] != Message.Role.USER:
            raise serializers.ValidationError(
                {"reply": serializers.ErrorDetail("Only a user's message can be answered.", code="invalid")}
            )
        if not attrs["text"].strip() and not attrs["embed_ids"]:
            raise serializers.ValidationError(
                {"text": serializers.ErrorDetail("Write something or attach an image.", code="blank")}
            )
        return attrs


class ChatsView(APIView):
    @extend_schema(responses={200: ChatListItemSerializer(many=True), **errors(401)})
    def get(self, request: Request) -> Response:
        return Response(chat_list(request.user))

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
        if data["reply"]:
            _, message = do_answer_message(
                request.user,
                chat,
                text=data["text"],
                embed_ids=[str(i) for i in data["embed_ids"]],
                aspect_ratio=data["aspect_ratio"],
                model=data["model"] or None,
                n=data.get("n"),
            )
            return Response(message_payload(message, chat_key(chat)), status=status.HTTP_201_CREATED)
        message = do_post_message(chat, role=data["role"], text=data["text"], embed_ids=data["embed_ids"])
        return Response(message_payload(message, chat_key(chat)), status=status.HTTP_201_CREATED)


class GalleryQuerySerializer(StrictInputSerializer):
    type = serializers.ChoiceField(choices=["image"], default="image", help_text="Only images are listed.")
    kind = serializers.ChoiceField(
        choices=list(KINDS),
        required=False,
        help_text="generated (and regenerated), edited (AI edits, crops, drawings) or uploaded.",
    )
    model = serializers.CharField(
        required=False, max_length=100, help_text="A model id, as in /v1/apps/images/models."
    )
    chat_id = serializers.UUIDField(required=False, help_text="Only the images of this chat of yours.")
    cursor = serializers.RegexField(
        r"^[A-Za-z0-9_-]{1,200}$", required=False, help_text="next_cursor of the last page, as it came."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=PAGE_DEFAULT)


GalleryItemShape = inline_serializer(
    "GalleryItem",
    {
        "embed_id": serializers.UUIDField(),
        "type": serializers.CharField(),
        "kind": serializers.ChoiceField(choices=list(KINDS)),
        "version_kind": serializers.CharField(),
        "status": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "encryption_mode": serializers.CharField(),
        "stored_bytes": serializers.IntegerField(),
        "preview_url": serializers.CharField(),
        "model": serializers.CharField(allow_null=True),
        "model_label": serializers.CharField(allow_null=True),
        "prompt": serializers.CharField(allow_null=True),
        "file_name": serializers.CharField(allow_null=True),
        "width": serializers.IntegerField(allow_null=True),
        "height": serializers.IntegerField(allow_null=True),
    },
    many=True,
)


class GalleryView(APIView):
    @extend_schema(
        parameters=[GalleryQuerySerializer],
        responses={
            200: inline_serializer(
                "GalleryPage",
                {
                    "items": GalleryItemShape,
                    "next_cursor": serializers.CharField(allow_null=True),
                    "total_bytes": serializers.IntegerField(),
                    "total_images": serializers.IntegerField(),
                },
            ),
            **errors(400, 401, 404, 503),
        },
    )
    def get(self, request: Request) -> Response:
        """Your images across chats, newest first, a page at a time (follow ``next_cursor``)."""
        serializer = GalleryQuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        query.pop("type")
        return Response(gallery(request.user, **query).payload())
