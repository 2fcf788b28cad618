"""Shared response shapes and the helpers every shape uses.

Each output shape is one serializer that both renders the JSON and describes it in
/v1/openapi.json (a contract schemathesis checks): small shapes render with DRF, the task (on
every poll, socket event and webhook) with a renderer compiled from its serializer's declared
fields (``compile_shape``). Presenters only compute the values a shape shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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
    estimated_finish_at = ZuluDateTimeField(allow_null=True)
    created_at = ZuluDateTimeField()
    started_at = ZuluDateTimeField(allow_null=True)
    finished_at = ZuluDateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    cost_usd = serializers.CharField(allow_null=True)
    error = TaskErrorSerializer(allow_null=True)
    files = FilesSerializer(allow_null=True)


def compile_shape(serializer_class: type[serializers.Serializer]) -> Callable[[Mapping], dict | None]:
    """A renderer for a shape on a hot path (the task poll, the socket's events), compiled from
    the serializer's declared fields, so the serializer stays the one definition of the shape
    (and of its schema). It renders a mapping of already-computed values: UUIDs and timestamps
    become strings as the serializer's fields would write them, nested shapes are rendered by
    their own compiled renderer (a nested null stays null), everything else passes through.
    DRF's own ``to_representation`` costs ~20× more per call (bench/RESULTS.md)."""
    steps: list[tuple[str, Callable[[object], object]]] = []
    for name, field in serializer_class().fields.items():
        if isinstance(field, serializers.ListSerializer):
            inner = compile_shape(type(field.child))
            steps.append((name, lambda value, inner=inner: [inner(item) for item in value]))
        elif isinstance(field, serializers.Serializer):
            steps.append((name, compile_shape(type(field))))
        elif isinstance(field, serializers.UUIDField):
            steps.append((name, str))
        elif isinstance(field, serializers.DateTimeField):
            steps.append((name, field.to_representation))
        else:
            steps.append((name, _same))
    names = {name for name, _ in steps}

    def render(row: Mapping | None) -> dict | None:
        if row is None:
            return None
        out = {}
        for name, convert in steps:
            if name in row:
                value = row[name]
                out[name] = None if value is None else convert(value)
        return out

    render.fields = names  # type: ignore[attr-defined]
    return render


def _same(value: object) -> object:
    return value


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


# A string that still holds something after Python's str.strip(), and no NUL (see below).
NON_BLANK_PATTERN = "^[^\x00]*[^\x00\\s\x1c-\x1f\x85][^\x00]*$"


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
                # Python's str.strip() (DRF's trim) also removes \x1c-\x1f and \x85, which an
                # ECMA regex's \S (what clients and schemathesis read) counts as non-space.
                prop.setdefault("pattern", NON_BLANK_PATTERN)
            else:
                prop.setdefault("pattern", "^[^\x00]+$")
        extra = getattr(self.target, "schema_properties", None)
        for name, rules in (extra() if extra else {}).items():
            schema["properties"][name].update(rules)
        schema.update(getattr(self.target, "schema_rules", {}))
        return schema
