"""Authentication: ``Authorization: Bearer <api key>`` or the browser's session cookie, for the
REST API (DRF) and for the WebSocket (Channels).

The Bearer scheme comes first so that a missing credential answers 401 with
``WWW-Authenticate: Bearer`` (DRF answers 403 when no authenticator names a header).
Session authentication enforces CSRF for unsafe methods, as the web UI sends the token.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from .api_keys import get_user_for_api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <api key>'.")
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API key.") from exc
        found = get_user_for_api_key(raw_key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return found

    def authenticate_header(self, request) -> str:
        return self.keyword


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication (which enforces CSRF) under a name that says so."""


def bearer_key(headers: dict[bytes, bytes]) -> str | None:
    """The raw API key of an ``Authorization: Bearer`` header, if one was sent."""
    scheme, _, raw = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" and raw.strip() else None


class ApiKeySocketAuthMiddleware(BaseMiddleware):
    """Sockets of API clients: ``Authorization: Bearer <api key>`` in the handshake names the
    user (a wrong key is anonymous, never the session's user), so a REST client can listen for
    ``embed_update`` instead of polling. Browsers cannot send this header on a WebSocket, so it
    is never an ambient credential; their sockets keep the session, checked for same origin."""

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        if b"authorization" in headers:
            raw_key = bearer_key(headers)
            found = await database_sync_to_async(get_user_for_api_key)(raw_key) if raw_key else None
            user, api_key = found if found else (AnonymousUser(), None)
            scope = dict(scope, user=user, api_key_id=str(api_key.pk) if api_key else None)
        return await super().__call__(scope, receive, send)
