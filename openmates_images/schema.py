"""Response shapes for the OpenAPI schema (documentation and contract tests).

Responses are built by presenters (plain dicts shared with WebSocket events); these serializers
describe them exactly, so /v1/openapi.json is a contract a client can validate against. The embed
content shape is not written here a second time: its fields come from ``embeds.content``.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from functools import cache

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from embeds import content


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


class EmbedErrorSerializer(TaskErrorSerializer):
    detail = serializers.CharField(required=False, help_text="The provider's own words, if it gave any.")


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


def _schema_field(hint: object, metadata: Mapping[str, object], *, required: bool) -> serializers.Field:
    """The serializer field describing one content field, from its type hint (and its ``fmt``)."""
    args = typing.get_args(hint)
    nullable = type(None) in args
    inner = next((a for a in args if a is not type(None)), hint) if nullable else hint
    options = {"required": required, "allow_null": nullable}
    if metadata.get("help"):
        options["help_text"] = metadata["help"]
    fmt = metadata.get("format")
    if fmt == "date-time":
        return serializers.DateTimeField(**options)
    if fmt == "uuid":
        return serializers.UUIDField(**options)
    if inner is bool:
        return serializers.BooleanField(**options)
    if inner is int:
        return serializers.IntegerField(**options)
    if inner is str:
        return serializers.CharField(**options)
    if typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner)
        return content_part_serializer(item)(many=True, **options)
    if dataclasses.is_dataclass(inner):
        return content_part_serializer(inner)(**options)
    return serializers.JSONField(**options)


@cache
def content_part_serializer(cls: type) -> type[serializers.Serializer]:
    """A serializer describing a part of the content (a crop box, a search result), field by
    field from its dataclass, so the schema cannot drift from what is stored."""
    # A part writes every field (None as null), so every one is present in what the API returns.
    hints = typing.get_type_hints(cls)
    fields = {f.name: _schema_field(hints[f.name], {}, required=True) for f in dataclasses.fields(cls)}
    return type(f"{cls.__name__}Serializer", (serializers.Serializer,), fields)


def _content_fields() -> dict[str, serializers.Field]:
    """Every public field of every content type (``embeds.content``), once each."""
    fields: dict[str, serializers.Field] = {}
    for cls in content.CONTENT_TYPES.values():
        hints = typing.get_type_hints(cls)
        for f in cls.public_fields():
            if f.name not in fields:
                fields[f.name] = _schema_field(hints[f.name], f.metadata, required=False)
    return fields


class EmbedContentEnvelopeSerializer(serializers.Serializer):
    """What every content response carries besides the content type's public fields."""

    embed_id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=list(content.CONTENT_TYPES))
    status = serializers.ChoiceField(choices=["processing", "finished", "error"])
    encryption_mode = serializers.ChoiceField(choices=["vault", "client"])
    files = FilesSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    ai_made = serializers.BooleanField(
        required=False, help_text="Images only: AI-made, or derived from an AI-made image (and labelled so)."
    )
    model_version = serializers.CharField(required=False, allow_null=True)
    task_id = serializers.UUIDField(required=False)
    cost_usd = serializers.CharField(required=False)
    error = EmbedErrorSerializer(required=False)


# The content shape: the envelope plus the public fields of embeds.content, one list of them.
EmbedContentSerializer = type(
    "EmbedContentSerializer",
    (EmbedContentEnvelopeSerializer,),
    {name: value for name, value in _content_fields().items() if name not in ("type", "model_version")},
)


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

    target_class = "openmates_images.api.StrictInputSerializer"
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
