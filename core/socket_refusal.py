"""Refusing a socket at its handshake without a consumer.

A Channels consumer asks the channel layer for a channel of its own and reads it (with
channels-redis, a blocking pop that lasts up to five seconds) even when it only closes the
handshake, so each refused socket kept a coroutine and a Redis read alive after the client had
gone. A socket we refuse (a foreign origin in openmates_images/socket_origin.py, no signed-in
user in chats/consumers.py) is answered here instead: the close, and nothing else.
"""

from __future__ import annotations

# The close code a socket without a valid session or API key gets (the consumer's own, too).
UNAUTHENTICATED = 4401


async def refuse(scope, receive, send, *, code: int | None = None) -> None:
    """Close the handshake (an HTTP 403 to the client) and end: no channel, no layer read."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", **({"code": code} if code is not None else {})})
