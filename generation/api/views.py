"""REST views for generation: parse, check access, call one action, present."""

from __future__ import annotations

import base64
import binascii

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from embeds import sealing
from embeds.access import access_finished_image, parse_uuid
from embeds.models import Embed
from openmates_images.errors import ApiError

from ..actions import GenerationParams, check_create_generation, do_cancel_task
from ..models import Task
from ..presenters import task_payload
from ..registry import MODELS, default_model, provider_for
from .serializers import EditInputSerializer, GenerateInputSerializer

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Repeat a request safely: the same key within 24 h returns the same task.",
)


def access_task(user, task_id: object) -> Task:
    task = Task.objects.select_related("embed").filter(pk=parse_uuid(task_id), owner=user).first()
    if task is None:
        raise ApiError("not_found", "Not found.", status_code=404)
    return task


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 255:
        raise ApiError("invalid_value", "Idempotency-Key is longer than 255 characters.", field="Idempotency-Key")
    return key or None


def _accepted(task: Task, created: bool) -> Response:
    body = task_payload(task, embed_status=task.embed.status)
    return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class GenerateView(APIView):
    @extend_schema(request=GenerateInputSerializer, parameters=[IDEMPOTENCY_HEADER], responses={202: dict})
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
            request.user, params, idempotency_key=_idempotency_key(request), webhook_url=data.get("webhook_url", "")
        )
        return _accepted(task, created)


def _decode_mask(value: str | None) -> bytes | None:
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
    return mask


class EditView(APIView):
    @extend_schema(request=EditInputSerializer, parameters=[IDEMPOTENCY_HEADER], responses={202: dict})
    def post(self, request: Request) -> Response:
        serializer = EditInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = access_finished_image(request.user, data["embed_id"], field="embed_id")
        mask = _decode_mask(data.get("mask"))
        source_content = sealing.open_embed(source).content()
        source_files = source_content.get("files") or {}
        params = GenerationParams(
            prompt=data["prompt"],
            aspect_ratio=data.get("aspect_ratio") or source_content.get("aspect_ratio") or "1:1",
            model=data.get("model") or default_model(),
            seed=data.get("seed"),
            image_size=data["image_size"],
            kind=Task.Kind.EDIT,
            source=source,
            mask=mask,
            composite=source_content.get("source") == "upload" or bool(source_content.get("composite")),
        )
        if mask is not None and "original" in source_files:
            from embeds.imaging import image_size

            try:
                mask_size = image_size(mask)
            except Exception as exc:
                raise ApiError("invalid_value", "The mask is not a readable PNG.", field="mask") from exc
            original = source_files["original"]
            if mask_size != (original["width"], original["height"]):
                raise ApiError(
                    "invalid_value",
                    f"The mask must be {original['width']}×{original['height']} pixels, like the image.",
                    field="mask",
                )
        task, created = check_create_generation(
            request.user, params, idempotency_key=_idempotency_key(request), webhook_url=data.get("webhook_url", "")
        )
        return _accepted(task, created)


class TaskView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, task_id: str) -> Response:
        task = access_task(request.user, task_id)
        files = None
        if task.status == Task.Status.COMPLETED and task.embed.status == Embed.Status.FINISHED:
            files = sealing.open_embed(task.embed).content().get("files")
        return Response(task_payload(task, embed_status=task.embed.status, files=files))


class CancelTaskView(APIView):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, task_id: str) -> Response:
        task = do_cancel_task(access_task(request.user, task_id))
        return Response(task_payload(task, embed_status=task.embed.status))


class ModelsView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        default = default_model().id
        return Response(
            {
                "default": default,
                "models": [
                    {
                        "id": spec.id,
                        "aliases": list(spec.aliases),
                        "label": spec.label,
                        "tier": spec.tier,
                        "provider": spec.provider,
                        "available": provider_for(spec).is_available(),
                        "aspect_ratios": list(spec.aspect_ratios),
                        "image_sizes": list(spec.image_sizes),
                        "supports_edit": spec.supports_edit,
                        "cost_usd": str(spec.cost_usd),
                        "timeout_seconds": spec.timeout_seconds,
                    }
                    for spec in MODELS
                ],
            }
        )
