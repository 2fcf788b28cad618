"""What a request to make or edit an image says, validated: one parser for the REST views, the
socket's frames and the chat's actions (a chat message that is a description makes an image
exactly as POST /v1/apps/images/generate does), so they all refuse alike. Output shapes live in
generation.presenters; ``generation.api.serializers`` re-exports the serializers for the views.
"""

from __future__ import annotations

import base64
import binascii

from django.contrib.auth.models import AbstractBaseUser
from rest_framework import serializers

from core.api import StrictInputSerializer
from core.errors import ApiError
from embeds import imaging, sealing
from embeds.access import access_finished_image
from embeds.conf import conf as embeds_conf
from embeds.content import FileMeta
from embeds.models import Embed

from .actions import MAX_VARIANTS, GenerationParams
from .models import Task
from .registry import ASPECT_RATIOS, IMAGE_SIZES, MODELS, default_model, find_model

PROMPT_MAX_LENGTH = 4000
MAX_REFERENCES = 14  # the most any model takes (Gemini); each model's own limit is checked later
CHAT_ID_HELP = (
    "One of your chats: the request and its result are written into it as one exchange (your "
    "message, the assistant's reply with the new embed), in the transaction that creates the task."
)


def _validate_model(value: str):
    spec = find_model(value)
    if spec is None:
        raise serializers.ValidationError(
            f"Unknown model {value!r}; see GET /v1/apps/images/models.", code="invalid_choice"
        )
    return spec


class GenerateInputSerializer(StrictInputSerializer):
    prompt = serializers.CharField(
        min_length=1, max_length=PROMPT_MAX_LENGTH, trim_whitespace=True, help_text="What the image shows."
    )
    aspect_ratio = serializers.ChoiceField(choices=ASPECT_RATIOS, default="1:1")
    model = serializers.CharField(required=False, max_length=200)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    image_size = serializers.ChoiceField(choices=IMAGE_SIZES, default="1K")
    n = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VARIANTS,
        default=1,
        help_text="How many variants to make (1–4): each its own image, task and seed (seed, seed+1, "
        "… when a seed is given).",
    )
    reference_embed_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=MAX_REFERENCES,
        help_text="Your own finished images for the model to draw on (up to 14 for Gemini, 4 for "
        "FLUX.2 klein, counting an edit's image; GET /v1/apps/images/models says each model's "
        "max_reference_images). The result is labelled a composite made from them.",
    )
    webhook_url = serializers.URLField(required=False, max_length=2000)

    @staticmethod
    def schema_properties() -> dict:
        """The model is one of the registry's ids or aliases (GET /v1/apps/images/models)."""
        return {"model": {"enum": sorted({name for spec in MODELS for name in (spec.id, *spec.aliases)})}}

    def validate_model(self, value: str):
        return _validate_model(value)

    def validate(self, attrs: dict) -> dict:
        spec = attrs.get("model") or default_model()
        if attrs["image_size"] not in spec.image_sizes:
            raise serializers.ValidationError(
                {
                    "image_size": serializers.ErrorDetail(
                        f"{spec.id} supports {', '.join(spec.image_sizes)}.", code="invalid_choice"
                    )
                }
            )
        return attrs


class EditInputSerializer(GenerateInputSerializer):
    embed_id = serializers.UUIDField(help_text="The image to edit (one of yours).")
    mask = serializers.CharField(
        required=False, max_length=12_000_000, help_text="PNG mask, base64 (white = change)"
    )
    aspect_ratio = serializers.ChoiceField(choices=ASPECT_RATIOS, required=False)
    chat_id = serializers.UUIDField(required=False, help_text=CHAT_ID_HELP)
    n = None  # an edit makes one image


def access_references(user: AbstractBaseUser, ids: list | None) -> tuple[Embed, ...]:
    """The user's finished images named by ``reference_embed_ids``, in order, each listed once;
    someone else's or a missing id answers exactly as a missing one does (404), an unfinished one
    409, one that is not a readable image 400 (``access_finished_image``)."""
    unique = list(dict.fromkeys(str(embed_id) for embed_id in ids or ()))
    return tuple(access_finished_image(user, embed_id, field="reference_embed_ids") for embed_id in unique)


def parse_generate_request(user: AbstractBaseUser, body: object) -> tuple[GenerationParams, dict]:
    """A generate request (REST body, socket frame or chat message) validated as POST
    /v1/apps/images/generate validates it: (the parameters, the validated data, for
    ``webhook_url``)."""
    serializer = GenerateInputSerializer(data=body)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    params = GenerationParams(
        prompt=data["prompt"],
        aspect_ratio=data["aspect_ratio"],
        model=data.get("model") or default_model(),
        seed=data.get("seed"),
        image_size=data["image_size"],
        variants=data["n"],
        references=access_references(user, data.get("reference_embed_ids")),
    )
    return params, data


def decode_mask(value: str | None, original: FileMeta | None) -> bytes | None:
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


def parse_edit_request(user: AbstractBaseUser, body: object) -> tuple[GenerationParams, dict]:
    """An edit request (REST body or socket frame) validated: (the parameters, the validated
    data, for ``webhook_url`` and ``chat_id``)."""
    serializer = EditInputSerializer(data=body)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    source = access_finished_image(user, data["embed_id"], field="embed_id")
    source_content = sealing.open_embed(source).image()
    mask = decode_mask(data.get("mask"), source_content.original)
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
        references=access_references(user, data.get("reference_embed_ids")),
    )
    return params, data
