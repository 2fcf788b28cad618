"""Shared pieces of the REST surface: strict input serializers and the JSON-object check."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

from .errors import ApiError


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that rejects fields it does not know (typos must not pass silently)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise ApiError("invalid_json", "The request body must be a JSON object.")
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise ValidationError(
                {unknown[0]: [ErrorDetail(f"Unknown field {unknown[0]!r}.", code="unknown_field")]}
            )
        return super().to_internal_value(data)
