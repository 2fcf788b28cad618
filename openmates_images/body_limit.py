"""A cap on HTTP request bodies, in front of Django.

Django's ASGI handler reads a whole request body (spooling it to disk) before any view runs, and
a chunked request carries no Content-Length for a view to check first: without this cap, a
client could stream gigabytes at an upload endpoint. The largest legitimate body is an upload of
UPLOAD_MAX_BYTES plus its multipart framing; anything bigger is answered 413 in the API's error
shape as soon as it is declared or, when streamed, as soon as it passes the cap.
"""

from __future__ import annotations

import json

from core.errors import error_body
from embeds.conf import conf

MULTIPART_OVERHEAD = 1024 * 1024


class _TooLarge(Exception):
    pass


def max_body_bytes() -> int:
    return conf().UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD


async def _reject(send, limit: int) -> None:
    body = json.dumps(
        error_body("request_too_large", f"The request body is larger than {limit // (1024 * 1024)} MiB.")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """ASGI middleware: 413 for HTTP requests whose body exceeds ``max_body_bytes()``."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max_body_bytes()
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, limit)
            return
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _reject(send, limit)
