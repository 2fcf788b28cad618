"""JSON from clients, with a nesting limit: one parser for REST bodies and WebSocket frames.

Python's json module recurses once per nesting level, so ``[[[[…]]]]`` 100,000 deep raises
RecursionError (a 500, or a socket dropped without a close frame), and anything that later walks
a deep value recurses again. No input of this API nests more than a few levels, so a body or a
frame deeper than ``MAX_DEPTH`` is refused as ``invalid_json`` before any code sees it.
"""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _too_deep(value: object) -> bool:
    """Whether a parsed value nests deeper than MAX_DEPTH (iteratively: no recursion here)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def loads(data: str | bytes | bytearray) -> object:
    """The parsed value, or ApiError ``invalid_json`` (malformed, not UTF-8, NaN/Infinity, or
    too deep)."""
    from .errors import ApiError  # errors imports DRF's views, which import this parser

    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        value = None
        too_deep = True
    except (TypeError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ApiError("invalid_json", f"The request body is not valid JSON ({exc}).") from None
    else:
        too_deep = _too_deep(value)
    if too_deep:
        raise ApiError("invalid_json", f"The JSON nests deeper than {MAX_DEPTH} levels.")
    return value


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser with ``loads`` in place of ``json.load``."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            from .errors import ApiError

            raise ApiError("invalid_json", "The request body is not valid UTF-8 JSON.") from None
        return loads(text)
