"""REST views for generation: parse, check access, call one action, present."""

from __future__ import annotations

import base64
import binascii

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictInputSerializer
from core.errors import ApiError
from core.json_input import LimitedJSONParser
from core.schema import TaskSerializer, compile_shape, errors
from embeds import imaging, sealing
from embeds.access import access_finished_image
from embeds.conf import conf as embeds_conf
from embeds.content import FileMeta
from embeds.models import Embed

from ..access import access_task, poll_task
from ..actions import (
    REPORT_REASONS,
    GenerationParams,
    check_create_generation,
    check_create_reverse_search,
    completed_files,
    do_cancel_task,
    do_report_image,
)
from ..availability import model_entry, reverse_search_entry
from ..models import Task
from ..presenters import task_payload
from ..registry import MODELS, default_model
from .serializers import EditInputSerializer, GenerateInputSerializer

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
        responses={202: TaskSerializer, 200: TaskSerializer, **errors(400, 401, 403, 422, 429, 503)},
    )
    def post(self, request: Request) -> Response:
        serializer = GenerateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        params = GenerationParams(
            prompt=data["prompt"],
            aspect_ratio=data["aspect_ratio"],
            model=data.get("model") or default_model(),
            seed=data.get("seed"),
            image_size=data["image_size"],
        )
        task, created = check_create_generation(
            request.user,
            params,
            idempotency_key=_idempotency_key(request),
            webhook_url=data.get("webhook_url", ""),
        )
        return _accepted(task, created)


def _decode_mask(value: str | None, original: FileMeta | None) -> bytes | None:
    """The mask as a clean PNG (pixels only: nothing a user's file carried reaches a provider),
    the size of the image it masks."""
    if not value:
        return None
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        mask = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError("invalid_value", "The mask must be a base64-encoded PNG.", field="mask") from exc
    if not mask.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ApiError("invalid_value", "The mask must be a PNG image.", field="mask")
    try:
        mask = imaging.clean_image_bytes(mask, wait_seconds=embeds_conf().IMAGE_QUEUE_SECONDS)
        size = imaging.image_size(mask)
    except imaging.InvalidImage as exc:
        raise ApiError(
            "invalid_value", f"The mask is not a readable PNG: {exc.message}", field="mask"
        ) from exc
    width, height = (original.width, original.height) if original else (None, None)
    if size != (width, height):
        raise ApiError(
            "invalid_value",
            f"The mask must be {width}×{height} pixels, like the image.",
            field="mask",
        )
    return mask


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
        serializer = EditInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = access_finished_image(request.user, data["embed_id"], field="embed_id")
        source_content = sealing.open_embed(source).image()
        mask = _decode_mask(data.get("mask"), source_content.original)
        params = GenerationParams(
            prompt=data["prompt"],
            aspect_ratio=data.get("aspect_ratio") or source_content.aspect_ratio or "1:1",
            model=data.get("model") or default_model(),
            seed=data.get("seed"),
            image_size=data["image_size"],
            kind=Task.Kind.EDIT,
            source=source,
            mask=mask,
            composite=source_content.source == "upload" or source_content.composite,
        )
        task, created = check_create_generation(
            request.user,
            params,
            idempotency_key=_idempotency_key(request),
            webhook_url=data.get("webhook_url", ""),
        )
        return _accepted(task, created)


class TaskView(APIView):
    @extend_schema(responses={200: TaskSerializer, **errors(401, 404, 503)})
    def get(self, request: Request, task_id: str) -> Response:
        task = poll_task(request.user, task_id)
        files = None
        if task.status == Task.Status.COMPLETED and task.embed.status == Embed.Status.FINISHED:
            files = sealing.open_embed(task.embed, cached=True).content().files
        return Response(task_payload(task, embed_status=task.embed.status, files=files))


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
        from ..webhooks import webhook_secret_for

        return Response(
            {"secret": webhook_secret_for(request.user.pk), "scheme": "standard-webhooks v1 (HMAC-SHA256)"}
        )


class ReverseSearchJsonSerializer(StrictInputSerializer):
    embed_id = serializers.UUIDField(help_text="One of your images.")


class ReverseSearchUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="An image file (a part with a filename).")


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
            task, created = check_create_reverse_search(
                request.user, upload=read_upload(request), idempotency_key=idempotency_key
            )
            return _accepted(task, created)
        serializer = ReverseSearchJsonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source = access_finished_image(request.user, serializer.validated_data["embed_id"], field="embed_id")
        task, created = check_create_reverse_search(
            request.user, source=source, idempotency_key=idempotency_key
        )
        return _accepted(task, created)


class ReportInputSerializer(StrictInputSerializer):
    reason = serializers.ChoiceField(choices=REPORT_REASONS)
    regenerate = serializers.BooleanField(default=False)


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
        task = do_report_image(request.user, embed, **serializer.validated_data)
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return _accepted(task, True)
