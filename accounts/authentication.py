"""Authentication: ``Authorization: Bearer <api key>`` or the browser's session cookie, for the
REST API (DRF) and for the WebSocket (Channels).

The Bearer scheme comes first so that a missing credential answers 401 with
``WWW-Authenticate: Bearer`` (DRF answers 403 when no authenticator names a header).
Session authentication enforces CSRF for unsafe methods, as the web UI sends the token.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from rest_framework import authentication, exceptions

from .api_keys import aget_user_for_api_key, get_user_for_api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    @classmethod
    def raw_key(cls, request) -> str | None:
        """The raw key of a ``Bearer`` header; None without one (AuthenticationFailed if bad)."""
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != cls.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <api key>'.")
        try:
            return header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API key.") from exc

    def authenticate(self, request):
        raw_key = self.raw_key(request)
        if raw_key is None:
            return None
        found = get_user_for_api_key(raw_key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return found

    def authenticate_header(self, request) -> str:
        return self.keyword


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication (which enforces CSRF) under a name that says so."""


async def authenticate_read(request: HttpRequest) -> AbstractBaseUser:
    """The REST API's two authenticators, in their order, for a safe request served in the
    event loop (``core.hot_path``): a ``Bearer`` key (a warm cache answers without a
    thread; a revoked key is refused at once), else the session's active user (its row and the
    session are read on the hot path's I/O threads). CSRF does not apply to a safe method, as in
    DRF's ``SessionAuthentication``. Raises what DRF raises: AuthenticationFailed for a bad key,
    NotAuthenticated without credentials."""
    from core.hot_path import blocking

    raw_key = ApiKeyAuthentication.raw_key(request)
    if raw_key is not None:
        found = await aget_user_for_api_key(raw_key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        request.user = found[0]
        return found[0]

    def session_user() -> AbstractBaseUser | None:
        user = getattr(request, "user", None)  # AuthenticationMiddleware's lazy user: loads it
        return user if user is not None and user.is_active else None

    user = await blocking(session_user)
    if user is None:
        raise exceptions.NotAuthenticated()
    return user


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
