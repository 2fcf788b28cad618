"""The embed content shape: ``GET /v1/embeds/{id}/content`` (and upload, crop). Its fields are
not written a second time here: they come from the public fields of ``embeds.content``, each
described from its type hint, so the schema cannot drift from what is stored."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from functools import cache

from rest_framework import serializers

from core.schema import FilesSerializer, TaskErrorSerializer, ZuluDateTimeField

from .. import content
from ..models import Embed


class EmbedErrorSerializer(TaskErrorSerializer):
    detail = serializers.CharField(required=False, help_text="The provider's own words, if it gave any.")


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
    parent_id = serializers.UUIDField(
        allow_null=True, help_text="Images: the version this one was made from (null for the first)."
    )
    root_id = serializers.UUIDField(
        allow_null=True, help_text="Images: the first version of its lineage (itself for the first)."
    )
    version_kind = serializers.ChoiceField(
        choices=[*Embed.VersionKind.values, ""],
        help_text="Images: how this version was made; blank outside any lineage (search results).",
    )
    version_count = serializers.IntegerField(
        help_text="Images: how many versions its lineage has (GET /v1/embeds/{id}/versions lists them)."
    )
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


class EmbedVersionSerializer(serializers.Serializer):
    """One version of an image's lineage: plaintext columns only, so a lineage of any length is
    listed without opening a sealed content (the content endpoint has the rest)."""

    embed_id = serializers.UUIDField(source="id")
    parent_id = serializers.UUIDField(allow_null=True)
    root_id = serializers.UUIDField()
    version_kind = serializers.ChoiceField(choices=Embed.VersionKind.values)
    status = serializers.ChoiceField(choices=Embed.Status.values)
    encryption_mode = serializers.ChoiceField(choices=Embed.EncryptionMode.values)
    created_at = ZuluDateTimeField()


class EmbedVersionsSerializer(serializers.Serializer):
    """``GET /v1/embeds/{id}/versions``: the lineage, oldest first."""

    root_id = serializers.UUIDField()
    versions = EmbedVersionSerializer(many=True)
