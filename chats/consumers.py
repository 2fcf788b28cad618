"""The WebSocket consumer: a logged-in user's tabs receive their own events, and can invoke the
chat skills (generate, regenerate, analyze, edit, reverse search, report, crop, and a plain
message answered as Enter answers it) and cancel their own tasks. Each skill is one exchange in
the chat (``chat_id``, or a new chat), written with its task by the chat action. Anonymous
sockets are refused; another user's ids answer not_found, exactly as over REST."""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import APIException, ErrorDetail, ValidationError

from core import json_input
from core.errors import ApiError, exception_handler
from core.realtime import user_group
from core.socket_refusal import UNAUTHENTICATED, refuse
from embeds.access import access_embed, access_finished_image
from embeds.api.views import CropInputSerializer
from generation.access import access_task
from generation.actions import do_cancel_task
from generation.api.views import ReportInputSerializer
from generation.presenters import task_payload
from generation.requests import parse_edit_request

from .access import access_chat, message_payload
from .actions import chat_key, do_answer_message, do_generate_in_chat, do_regenerate_in_chat
from .analysis import do_analyze_in_chat
from .api import MessageInputSerializer
from .skills import (
    CROP_RATIOS,
    do_crop_in_chat,
    do_edit_in_chat,
    do_report_in_chat,
    do_reverse_search_in_chat,
)

logger = logging.getLogger(__name__)


def _error_payload(exc: Exception) -> dict:
    response = exception_handler(exc, {})
    if response is None:
        logger.exception("generation.socket.crashed", exc_info=exc)
        return {"code": "internal", "message": "Something went wrong.", "field": None}
    return response.data["error"]


class UserEventsConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        """A socket without a signed-in user (no session, a wrong or revoked API key) is refused
        before the consumer takes a channel-layer channel it would read after the client left."""
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            return await refuse(scope, receive, send, code=UNAUTHENTICATED)
        return await super().__call__(scope, receive, send)

    async def connect(self) -> None:
        self.user = user = self.scope["user"]
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        """A client that left while we answered is not an error of ours (uvicorn raises its
        ClientDisconnected, an OSError): one INFO line, no traceback, nothing more to send."""
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except OSError:
            logger.info("generation.socket.client_gone user=%s", getattr(self, "user", None) and self.user.pk)

    async def send_json(self, content, close=False) -> None:
        await self.send(text_data=await self.encode_json(content), close=close)  # through send() above

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Every frame gets an answer: a frame that is not a JSON object (or nests too deep) gets
        an error frame, as a REST call with such a body gets a 400 (the socket stays open)."""
        try:
            content = json_input.loads(text_data if text_data is not None else bytes_data or b"")
        except ApiError as exc:
            error = {"code": exc.code, "message": exc.message, "field": None}
        else:
            if isinstance(content, dict):
                await self.receive_json(content)
                return
            error = {"code": "invalid_json", "message": "Send one JSON object per frame.", "field": None}
        await self.send_json({"type": "error", "request_id": None, "error": error})

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type")
        request_id = content.get("request_id")
        try:
            skill = {
                "generate": self._generate,
                "regenerate": self._regenerate,
                "analyze": self._analyze,
                "edit": self._edit,
                "reverse_search": self._reverse_search,
                "report": self._report,
                "crop": self._crop,
                "message": self._message,
            }.get(kind if isinstance(kind, str) else "")
            if skill is not None:  # a chat skill: its embed (task payload) and the reply it is in
                payload, message = await database_sync_to_async(skill)(content)
                await self.send_json(
                    {
                        "type": "embed_created" if payload is not None else "done",
                        "request_id": request_id,
                        "payload": payload,
                        "message": message,
                    }
                )
            elif kind == "cancel":
                payload = await database_sync_to_async(self._cancel)(content.get("task_id"))
                await self.send_json({"type": "task_cancelled", "request_id": request_id, "payload": payload})
            elif kind == "ping":
                await self.send_json({"type": "pong", "request_id": request_id})
            else:
                raise ValidationError({"type": "Unknown message type."})
        except (APIException, Exception) as exc:  # every failure answers, the socket stays open
            await self.send_json({"type": "error", "request_id": request_id, "error": _error_payload(exc)})

    def _chat(self, content: dict):
        """The frame's chat (someone else's or a missing one: not_found); None: a new chat."""
        chat_id = content.get("chat_id")
        return access_chat(self.user, chat_id, field="chat_id") if chat_id else None

    @staticmethod
    def _reply(message) -> dict | None:
        return message_payload(message, chat_key(message.chat)) if message is not None else None

    @staticmethod
    def _fields(content: dict, *names: str) -> dict:
        """The frame's body for a REST serializer: its own fields, without the frame's envelope."""
        return {name: content[name] for name in names if name in content}

    def _generate(self, content: dict) -> tuple[dict, dict]:
        chat = self._chat(content)
        if "prompt" not in content:
            raise ValidationError({"prompt": [ErrorDetail("This field is required.", code="required")]})
        # The values go on as sent (never str()-ed): the chat action validates them with the
        # serializer of POST /v1/apps/images/generate, so 12345 or ["x"] is refused as there.
        payload, message = do_generate_in_chat(
            self.user,
            chat,
            prompt=content["prompt"],
            aspect_ratio=content.get("aspect_ratio", "1:1"),
            model=content.get("model"),
            embed_ids=content.get("embed_ids") or None,
            n=content.get("n"),
            reference_embed_ids=content.get("reference_embed_ids"),
        )
        return payload, self._reply(message)

    def _regenerate(self, content: dict) -> tuple[dict, dict]:
        """One of the user's images made again, as an exchange in the chat (``chats.actions``)."""
        chat = self._chat(content)
        embed = access_embed(self.user, content.get("embed_id"), field="embed_id")
        payload, message = do_regenerate_in_chat(self.user, chat, embed)
        return payload, self._reply(message)

    def _analyze(self, content: dict) -> tuple[dict, dict]:
        """A question about an image, answered in the chat (``chats.analysis``)."""
        chat = self._chat(content)
        payload, message = do_analyze_in_chat(
            self.user,
            chat,
            question=content.get("question"),
            embed_id=content.get("embed_id"),
            region=content.get("region"),
            model=content.get("model") or None,
            attachments=content.get("embed_ids") or None,
        )
        return payload, self._reply(message)

    def _edit(self, content: dict) -> tuple[dict, dict]:
        """The viewer's Mark to edit: validated as POST /v1/apps/images/edit validates."""
        chat = self._chat(content)
        body = self._fields(
            content,
            "embed_id",
            "prompt",
            "mask",
            "model",
            "seed",
            "aspect_ratio",
            "image_size",
            "reference_embed_ids",
        )
        params, _ = parse_edit_request(self.user, body)
        task, _, message = do_edit_in_chat(self.user, chat, params)
        return task_payload(task, embed_status=task.embed.status), self._reply(message)

    def _reverse_search(self, content: dict) -> tuple[dict, dict]:
        """The viewer's Find similar on the web, for one of the user's images."""
        chat = self._chat(content)
        source = access_finished_image(self.user, content.get("embed_id"), field="embed_id")
        task, _, message = do_reverse_search_in_chat(self.user, chat, source=source)
        return task_payload(task, embed_status=task.embed.status), self._reply(message)

    def _report(self, content: dict) -> tuple[dict | None, dict | None]:
        """A problem report, validated as POST /v1/embeds/{id}/report; with ``regenerate`` the
        new image is the reply (a ``done`` frame without one)."""
        chat = self._chat(content)
        embed = access_finished_image(self.user, content.get("embed_id"), field="embed_id")
        serializer = ReportInputSerializer(data=self._fields(content, "reason", "regenerate"))
        serializer.is_valid(raise_exception=True)
        task, message = do_report_in_chat(self.user, chat, embed, **serializer.validated_data)
        payload = task_payload(task, embed_status=task.embed.status) if task is not None else None
        return payload, self._reply(message)

    def _crop(self, content: dict) -> tuple[dict, dict]:
        """The viewer's Crop: a rectangle of the original (validated as POST
        /v1/embeds/{id}/crop), with the aspect lock it was drawn with named in the request."""
        chat = self._chat(content)
        source = access_finished_image(self.user, content.get("embed_id"), field="embed_id")
        serializer = CropInputSerializer(data=self._fields(content, "x", "y", "width", "height"))
        serializer.is_valid(raise_exception=True)
        ratio = content.get("ratio", "free")
        if ratio not in CROP_RATIOS:
            choices = ", ".join(CROP_RATIOS)
            raise ValidationError({"ratio": [ErrorDetail(f"One of {choices}.", code="invalid")]})
        box = serializer.validated_data
        embed, message = do_crop_in_chat(
            self.user, chat, source, (box["x"], box["y"], box["width"], box["height"]), ratio=ratio
        )
        return {"embed_id": str(embed.id), "embed_status": embed.status}, self._reply(message)

    def _message(self, content: dict) -> tuple[dict | None, dict]:
        """The composer's Send, answered as POST /v1/chats/{id}/messages with ``reply`` answers."""
        chat = self._chat(content)
        body = self._fields(content, "text", "embed_ids", "aspect_ratio", "model", "n")
        serializer = MessageInputSerializer(data={**body, "reply": True})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payload, message = do_answer_message(
            self.user,
            chat,
            text=data["text"],
            embed_ids=[str(i) for i in data["embed_ids"]],
            aspect_ratio=data["aspect_ratio"],
            model=data["model"] or None,
            n=data.get("n"),
        )
        return payload, self._reply(message)

    def _cancel(self, task_id) -> dict:
        task = do_cancel_task(access_task(self.user, task_id))
        return task_payload(task, embed_status=task.embed.status)

    async def user_event(self, message: dict) -> None:
        await self.send_json({"type": message["event"], "payload": message["payload"]})

    async def user_session_ended(self, message: dict) -> None:
        session = self.scope.get("session")
        session_key, api_key_id = message.get("session_key"), message.get("api_key_id")
        if session_key is None and api_key_id is None:  # the account is gone
            await self.close(code=UNAUTHENTICATED)
        elif session_key is not None and session is not None and session.session_key == session_key:
            await self.close(code=UNAUTHENTICATED)  # logged out
        elif api_key_id is not None and self.scope.get("api_key_id") == api_key_id:
            await self.close(code=UNAUTHENTICATED)  # its API key was revoked
