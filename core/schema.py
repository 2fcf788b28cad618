"""Response shapes for the OpenAPI schema (documentation and contract tests).

Responses are built by presenters (plain dicts shared with WebSocket events); these serializers
describe them exactly, so /v1/openapi.json is a contract a client can validate against.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class IsoDateTimeField(serializers.DateTimeField):
    """A timestamp rendered as Python writes it (``isoformat()``: ``+00:00``), as the chats'
    shapes always have; the schema says ``date-time``."""

    def to_representation(self, value):
        return value.isoformat() if value is not None else None


class ZuluDateTimeField(serializers.DateTimeField):
    """A UTC timestamp rendered ending in ``Z`` (tasks, shares, embeds); the schema says ``date-time``."""

    def to_representation(self, value):
        return value.isoformat().replace("+00:00", "Z") if value is not None else None


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class FileMetaSerializer(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    format = serializers.CharField()


class FilesSerializer(serializers.Serializer):
    original = FileMetaSerializer(required=False)
    full = FileMetaSerializer(required=False)
    preview = FileMetaSerializer(required=False)


class TaskErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class TaskSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    embed_id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=["generate", "edit", "reverse_search"])
    status = serializers.ChoiceField(choices=["queued", "processing", "completed", "failed", "cancelled"])
    embed_status = serializers.CharField(allow_null=True)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    stage = serializers.CharField()
    queue_position = serializers.IntegerField(allow_null=True, help_text="Place in the provider's queue.")
    server_queue_position = serializers.IntegerField(
        allow_null=True, help_text="While queued here: place in this server's own queue (1 starts next)."
    )
    model = serializers.CharField()
    eta_seconds = serializers.FloatField(allow_null=True)
    estimated_finish_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    cost_usd = serializers.CharField(allow_null=True)
    error = TaskErrorSerializer(allow_null=True)
    files = FilesSerializer(allow_null=True)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses for a view's schema, all in the one error shape."""
    descriptions = {
        400: "Invalid input",
        401: "Missing or invalid credentials",
        403: "CSRF check failed (cookie auth)",
        404: "Not found (also for other users' ids)",
        409: "Not ready",
        422: "Idempotency-Key already used with a different request",
        413: "Too large",
        429: "Rate limited (see Retry-After)",
        500: "Stored data unreadable",
        503: "A dependency is down (see Retry-After)",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=descriptions[code]) for code in codes}


class StrictInputSchema(OpenApiSerializerExtension):
    """Request bodies of StrictInputSerializer say what the server enforces: no other
    properties (``additionalProperties: false``), no string holds a NUL character, and a
    string that must not be blank holds a non-whitespace one (DRF trims it, then refuses it
    blank). A serializer adds
    what its own validation checks as ``schema_rules`` (merged into its schema) and
    ``schema_properties()`` (merged into its properties)."""

    target_class = "core.api.StrictInputSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        for name, field in self.target.fields.items():
            prop = schema.get("properties", {}).get(name)
            if prop is None or field.read_only or not isinstance(field, serializers.CharField):
                continue
            if "allOf" in prop:  # an enum, extracted into a component
                continue
            # DRF refuses NUL characters in any string (ProhibitNullCharactersValidator).
            if field.allow_blank:
                prop.setdefault("pattern", "^[^\x00]*$")
                continue
            prop["minLength"] = max(1, prop.get("minLength", 0))
            if getattr(field, "trim_whitespace", False):
                prop.setdefault("pattern", "^[^\x00]*\\S[^\x00]*$")
            else:
                prop.setdefault("pattern", "^[^\x00]+$")
        extra = getattr(self.target, "schema_properties", None)
        for name, rules in (extra() if extra else {}).items():
            schema["properties"][name].update(rules)
        schema.update(getattr(self.target, "schema_rules", {}))
        return schema
