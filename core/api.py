"""Shared pieces of the REST surface: strict input serializers and the JSON-object check."""

from __future__ import annotations

import base64
import binascii

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

from .errors import ApiError

# The JSON type each kind of field takes. DRF would coerce 123 to "123" and "yes" to true; in a
# JSON body such a value is a client's bug, answered as one rather than guessed at.
_JSON_TYPES: tuple[tuple[type[serializers.Field], type | tuple[type, ...], str], ...] = (
    (serializers.BooleanField, bool, "Must be true or false."),
    (serializers.IntegerField, int, "Must be a whole number."),
    (serializers.CharField, str, "Must be a string."),
    (serializers.ChoiceField, str, "Must be a string."),
    (serializers.UUIDField, str, "Must be a string."),
)


def _json_type_error(field: serializers.Field, value: object) -> str | None:
    if value is None:
        return None  # DRF's own null handling says whether null is allowed
    for kind, expected, message in _JSON_TYPES:
        if isinstance(field, kind):
            wrong_bool = isinstance(value, bool) and expected is not bool  # True is an int in Python
            return message if wrong_bool or not isinstance(value, expected) else None
    return None


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that rejects fields it does not know (typos must not pass silently)
    and, in a JSON body, values of the wrong JSON type."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise ApiError("invalid_json", "The request body must be a JSON object.")
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise ValidationError(
                {unknown[0]: [ErrorDetail(f"Unknown field {unknown[0]!r}.", code="unknown_field")]}
            )
        if not isinstance(data, QueryDict):  # form bodies carry only strings
            for name, value in data.items():
                message = _json_type_error(self.fields[name], value)
                if message:
                    raise ValidationError({name: [ErrorDetail(message, code="invalid")]})
        return super().to_internal_value(data)


def decode_b64url(value: object, field: str, *, min_bytes: int, max_bytes: int) -> bytes:
    """Bytes a browser sent as base64url (keys, salts, envelopes), of a length within bounds."""
    if not isinstance(value, str):
        raise ApiError("invalid_value", "Must be a base64url string.", field=field)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ApiError("invalid_value", "Must be base64url.", field=field) from exc
    if not min_bytes <= len(raw) <= max_bytes:
        raise ApiError("invalid_value", f"Must encode {min_bytes}–{max_bytes} bytes.", field=field)
    return raw
