"""Refusing a socket at its handshake without a consumer.

A Channels consumer asks the channel layer for a channel of its own and reads it (with
channels-redis, a blocking pop that lasts up to five seconds) even when it only closes the
handshake, so each refused socket kept a coroutine and a Redis read alive after the client had
gone. A socket we refuse (wrong origin, no valid credentials) is answered here instead: the
close, and nothing else.
"""

from __future__ import annotations

# The close code a socket without a valid session or API key gets (the consumer's own, too).
UNAUTHENTICATED = 4401


async def refuse(scope, receive, send, *, code: int | None = None) -> None:
    """Close the handshake (an HTTP 403 to the client) and end: no channel, no layer read."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", **({"code": code} if code is not None else {})})


class SignedInSockets:
    """Let through only sockets whose scope names a signed-in user (the session's or an API
    key's, set by the auth middleware around this); refuse the others with 4401."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            return await refuse(scope, receive, send, code=UNAUTHENTICATED)
        return await self.app(scope, receive, send)
