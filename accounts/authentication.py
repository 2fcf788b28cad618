"""DRF authentication: ``Authorization: Bearer <api key>`` or the browser's session cookie.

The Bearer scheme comes first so that a missing credential answers 401 with
``WWW-Authenticate: Bearer`` (DRF answers 403 when no authenticator names a header).
Session authentication enforces CSRF for unsafe methods, as the web UI sends the token.
"""

from __future__ import annotations

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
