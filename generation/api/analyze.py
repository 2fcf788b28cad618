"""REST views for image analysis: ask a question about an image (and a region drawn on it)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictInputSerializer
from core.errors import ApiError
from core.json_input import LimitedJSONParser
from core.schema import TaskSerializer, compile_shape, errors

from ..analysis.actions import check_create_analysis, parse_analysis_request
from ..analysis.models import ANALYSIS_MODELS, analysis_model_entry, default_analysis_model
from ..analysis.region import MAX_POINTS, MAX_SHAPES
from .views import IDEMPOTENCY_HEADER, _accepted, _idempotency_key


def _numbers(*names: str, minimum: float | None = None) -> dict:
    rule = {"type": "number"} | ({"minimum": minimum} if minimum is not None else {})
    return {name: rule for name in names}


def _shape(types: list[str], properties: dict) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", *properties],
        "properties": {"type": {"enum": types}, **properties},
    }


_POINTS = {
    "points": {
        "type": "array",
        "minItems": 2,
        "maxItems": MAX_POINTS,
        "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
    }
}
# What generation.analysis.region.parse_region accepts, but for lying inside the image (its size
# is known only once the image is read).
REGION_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["shapes"],
    "properties": {
        "shapes": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_SHAPES,
            "items": {
                "oneOf": [
                    _shape(
                        ["rectangle", "ellipse"], _numbers("x", "y") | _numbers("width", "height", minimum=1)
                    ),
                    _shape(["arrow"], _numbers("x1", "y1", "x2", "y2")),
                    _shape(["freehand"], _POINTS),
                ]
            },
        }
    },
}


class AnalyzeJsonSerializer(StrictInputSerializer):
    """For the schema only: ``parse_analysis_request`` reads the body (one path for REST and WS)."""

    embed_id = serializers.UUIDField(help_text="One of your images.")
    question = serializers.CharField(min_length=1, max_length=4000)
    region = serializers.JSONField(
        required=False,
        help_text='{"shapes": [{"type": "rectangle"|"ellipse", "x", "y", "width", "height"} | '
        '{"type": "arrow", "x1", "y1", "x2", "y2"} | {"type": "freehand", "points": [[x, y], ...]}]} '
        "in the image's original pixels.",
    )
    model = serializers.CharField(required=False, help_text="See GET /v1/apps/images/analyze/models.")
    webhook_url = serializers.URLField(required=False, max_length=2000)

    @staticmethod
    def schema_properties() -> dict:
        return {
            "model": {
                "enum": sorted({name for spec in ANALYSIS_MODELS for name in (spec.id, *spec.aliases)})
            },
            "region": REGION_SCHEMA,
        }


class AnalyzeUploadSerializer(AnalyzeJsonSerializer):
    """The multipart form: a file instead of an embed id, the region as a JSON string."""

    embed_id = None
    file = serializers.FileField(help_text="An image file (a part with a filename).")
    region = serializers.CharField(
        required=False, help_text="The region as a JSON string (see the JSON body)."
    )


class AnalyzeView(APIView):
    """Answer a question about an image; the answer is an ``image_analysis`` embed."""

    parser_classes = [LimitedJSONParser, MultiPartParser]

    @extend_schema(
        request={"application/json": AnalyzeJsonSerializer, "multipart/form-data": AnalyzeUploadSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: TaskSerializer,
            200: TaskSerializer,
            **errors(400, 401, 403, 404, 409, 413, 429, 503),
        },
    )
    def post(self, request: Request) -> Response:
        from embeds.api.views import read_upload

        idempotency_key = _idempotency_key(request)
        upload = None
        if request.content_type.startswith("multipart/"):
            upload = read_upload(request)
            data = {key: request.data.get(key) for key in request.data if key != "file"}
        else:
            data = request.data
        params = parse_analysis_request(request.user, data, upload=upload, extra_fields=("webhook_url",))
        webhook_url = data.get("webhook_url") or ""
        if not isinstance(webhook_url, str) or len(webhook_url) > 2000:
            raise ApiError("invalid_value", "webhook_url must be a URL.", field="webhook_url")
        task, created = check_create_analysis(
            request.user, params, idempotency_key=idempotency_key, webhook_url=webhook_url
        )
        return _accepted(task, created)


class AnalysisModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())
    label = serializers.CharField()
    provider = serializers.CharField()
    vision = serializers.BooleanField()
    available = serializers.BooleanField()
    unavailable_reason = serializers.CharField(allow_null=True)
    cost_usd = serializers.CharField()
    timeout_seconds = serializers.FloatField()


class AnalysisModelsSerializer(serializers.Serializer):
    default = serializers.CharField()
    models = AnalysisModelSerializer(many=True)


_render_models = compile_shape(AnalysisModelsSerializer)


class AnalysisModelsView(APIView):
    """The models that answer questions about images, with whether each works here and why not."""

    @extend_schema(responses={200: AnalysisModelsSerializer, **errors(401)})
    def get(self, request: Request) -> Response:
        return Response(
            _render_models(
                {
                    "default": default_analysis_model().id,
                    "models": [analysis_model_entry(spec) for spec in ANALYSIS_MODELS],
                }
            )
        )
