"""REST views for generation: parse, check access, call one action, present."""

from __future__ import annotations

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictInputSerializer
from core.errors import ApiError
from core.hot_path import async_twin, blocking
from core.json_input import LimitedJSONParser
from core.schema import TaskSerializer, compile_shape, errors
from embeds import sealing
from embeds.access import access_finished_image
from embeds.models import Embed

from ..access import access_task, poll_task
from ..actions import (
    REPORT_REASONS,
    check_create_generation,
    check_create_generations,
    check_create_reverse_search,
    completed_files,
    do_cancel_task,
    do_report_image,
)
from ..availability import model_entry, reverse_search_entry
from ..in_chat import run_in_chat
from ..models import Task
from ..presenters import GenerationAcceptedSerializer, generation_payload, task_payload
from ..registry import MODELS, default_model
from ..requests import parse_edit_request, parse_generate_request
from ..webhooks import webhook_secret_for
from .serializers import CHAT_ID_HELP, EditInputSerializer, GenerateInputSerializer

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": 255},
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat a request safely: the same key within 24 h returns the same task "
    "(422 idempotency_key_reused if it came with a different request). At most 255 characters.",
)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 255:
        raise ApiError(
            "invalid_value", "Idempotency-Key is longer than 255 characters.", field="Idempotency-Key"
        )
    return key or None


def _accepted(task: Task, created: bool) -> Response:
    body = task_payload(task, embed_status=task.embed.status)
    return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class GenerateView(APIView):
    @extend_schema(
        request=GenerateInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: GenerationAcceptedSerializer,
            200: GenerationAcceptedSerializer,
            **errors(400, 401, 403, 404, 409, 422, 429, 503),
        },
    )
    def post(self, request: Request) -> Response:
        params, data = parse_generate_request(request.user, request.data)
        tasks, created = check_create_generations(
            request.user,
            params,
            idempotency_key=_idempotency_key(request),
            webhook_url=data.get("webhook_url", ""),
        )
        return Response(
            generation_payload(tasks), status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        )


class EditView(APIView):
    @extend_schema(
        request=EditInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: TaskSerializer,
            200: TaskSerializer,
            **errors(400, 401, 403, 404, 409, 422, 429, 503),
        },
    )
    def post(self, request: Request) -> Response:
        params, data = parse_edit_request(request.user, request.data)
        options = {"idempotency_key": _idempotency_key(request), "webhook_url": data.get("webhook_url", "")}
        if data.get("chat_id"):
            task, created = run_in_chat("edit", request.user, data["chat_id"], params=params, **options)
        else:
            task, created = check_create_generation(request.user, params, **options)
        return _accepted(task, created)


class TaskView(APIView):
    @extend_schema(responses={200: TaskSerializer, **errors(401, 404, 503)})
    def get(self, request: Request, task_id: str) -> Response:
        return Response(_poll(request.user, task_id))


def _poll(user, task_id: str) -> dict:
    """A poll's answer: one query (owner check included), and a completed task's file metadata
    from its sealed content (the data-key cache usually holds the key). Blocking: the sync view
    calls it on its request thread, the async twin in one hop."""
    task = poll_task(user, task_id)
    files = None
    if task.status == Task.Status.COMPLETED and task.embed.status == Embed.Status.FINISHED:
        files = sealing.open_embed(task.embed, cached=True).content().files
    return task_payload(task, embed_status=task.embed.status, files=files)


@async_twin(TaskView)
async def task_async(request: HttpRequest, user, task_id: str) -> dict:
    """TaskView.get in the event loop (ASGI): the same answer, one blocking hop."""
    return await blocking(_poll, user, task_id)


class CancelTaskView(APIView):
    @extend_schema(request=None, responses={200: TaskSerializer, **errors(401, 403, 404, 503)})
    def post(self, request: Request, task_id: str) -> Response:
        task = do_cancel_task(access_task(request.user, task_id))
        # Too late to cancel a finished task: it answers as GET does, files and all.
        return Response(task_payload(task, embed_status=task.embed.status, files=completed_files(task)))


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())
    label = serializers.CharField()
    tier = serializers.CharField()
    provider = serializers.CharField()
    available = serializers.BooleanField()
    unavailable_reason = serializers.CharField(allow_null=True)
    edit_available = serializers.BooleanField()
    edit_unavailable_reason = serializers.CharField(allow_null=True)
    aspect_ratios = serializers.ListField(child=serializers.CharField())
    image_sizes = serializers.ListField(child=serializers.CharField())
    supports_edit = serializers.BooleanField()
    max_reference_images = serializers.IntegerField(
        help_text="How many reference_embed_ids a generate request may name (an edit: one fewer)."
    )
    cost_usd = serializers.CharField()
    timeout_seconds = serializers.FloatField()


class ReverseSearchStatusSerializer(serializers.Serializer):
    available = serializers.BooleanField()
    engine = serializers.CharField()
    unavailable_reason = serializers.CharField(allow_null=True)


class ModelsSerializer(serializers.Serializer):
    default = serializers.CharField()
    models = ModelSerializer(many=True)
    reverse_search = ReverseSearchStatusSerializer()


_render_models = compile_shape(ModelsSerializer)  # the shape is ModelsSerializer, rendered and documented


class ModelsView(APIView):
    @extend_schema(responses={200: ModelsSerializer, **errors(401)})
    def get(self, request: Request) -> Response:
        return Response(
            _render_models(
                {
                    "default": default_model().id,
                    "models": [model_entry(spec) for spec in MODELS],
                    "reverse_search": reverse_search_entry(),
                }
            )
        )


class WebhookSecretView(APIView):
    """The secret your webhook endpoint verifies our signatures with (created on first read)."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "WebhookSecret", {"secret": serializers.CharField(), "scheme": serializers.CharField()}
            ),
            **errors(401),
        }
    )
    def get(self, request: Request) -> Response:
        return Response(
            {"secret": webhook_secret_for(request.user.pk), "scheme": "standard-webhooks v1 (HMAC-SHA256)"}
        )


class ReverseSearchJsonSerializer(StrictInputSerializer):
    embed_id = serializers.UUIDField(help_text="One of your images.")
    chat_id = serializers.UUIDField(required=False, help_text=CHAT_ID_HELP)


class ReverseSearchUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="An image file (a part with a filename).")
    chat_id = serializers.UUIDField(required=False, help_text=CHAT_ID_HELP)


class ReverseSearchView(APIView):
    """Find where an image (one of your embeds, or an uploaded file) appears on the web."""

    parser_classes = [LimitedJSONParser, MultiPartParser]

    @extend_schema(
        request={
            "application/json": ReverseSearchJsonSerializer,
            "multipart/form-data": ReverseSearchUploadSerializer,
        },
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: TaskSerializer,
            200: TaskSerializer,
            **errors(400, 401, 403, 404, 409, 413, 422, 429, 503),
        },
    )
    def post(self, request: Request) -> Response:
        from embeds.api.views import read_upload

        idempotency_key = _idempotency_key(request)
        if request.content_type.startswith("multipart/"):
            chat_id = request.data.get("chat_id")
            target = {"upload": read_upload(request)}
        else:
            serializer = ReverseSearchJsonSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            chat_id = data.get("chat_id")
            target = {"source": access_finished_image(request.user, data["embed_id"], field="embed_id")}
        if chat_id:
            task, created = run_in_chat(
                "reverse_search", request.user, chat_id, idempotency_key=idempotency_key, **target
            )
        else:
            task, created = check_create_reverse_search(
                request.user, idempotency_key=idempotency_key, **target
            )
        return _accepted(task, created)


class ReportInputSerializer(StrictInputSerializer):
    reason = serializers.ChoiceField(choices=REPORT_REASONS)
    regenerate = serializers.BooleanField(default=False)
    chat_id = serializers.UUIDField(
        required=False,
        help_text="With regenerate: one of your chats, into which the report and the new image are "
        "written as one exchange, in the transaction that creates the task.",
    )


class ReportView(APIView):
    """Report a problem with a generated image, and optionally generate it again."""

    @extend_schema(
        request=ReportInputSerializer,
        responses={202: TaskSerializer, 204: None, **errors(400, 401, 403, 404, 409, 429, 503)},
    )
    def post(self, request: Request, embed_id: str) -> Response:
        embed = access_finished_image(request.user, embed_id)
        serializer = ReportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        chat_id = data.pop("chat_id", None)
        if chat_id:
            task = run_in_chat("report", request.user, chat_id, embed=embed, **data)
        else:
            task = do_report_image(request.user, embed, **data)
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return _accepted(task, True)
