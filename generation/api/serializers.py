"""Input validation for the image endpoints; output shapes live in generation.presenters."""

from __future__ import annotations

from rest_framework import serializers

from core.api import StrictInputSerializer

from ..registry import ASPECT_RATIOS, IMAGE_SIZES, MODELS, default_model, find_model

PROMPT_MAX_LENGTH = 4000


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
