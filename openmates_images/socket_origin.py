"""Which browser origins may open a socket with the session cookie: exactly the ones CSRF
accepts for a form post.

Channels' AllowedHostsOriginValidator compares only the Origin's host name with ALLOWED_HOSTS,
so ``http://127.0.0.1:6666`` (any other service on the same host) passed for a server on
``:8000``. Here, as in Django's CsrfViewMiddleware, the Origin must equal the socket's own
``scheme://host[:port]`` (the Host header, which must be an allowed host) or be listed in
CSRF_TRUSTED_ORIGINS (``https://*.example.com`` wildcards included).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from core.socket_refusal import refuse


def _trusted(origin: str) -> bool:
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parsed = urlsplit(origin)
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        pattern = urlsplit(trusted)
        if pattern.scheme == parsed.scheme and pattern.netloc.startswith("*."):
            suffix = pattern.netloc[1:]  # ".example.com" (with any port it names)
            if parsed.netloc.endswith(suffix) and len(parsed.netloc) > len(suffix):
                return True
    return False


def origin_allowed(scope: dict) -> bool:
    """Whether the socket's Origin is its own origin or a trusted one (no Origin: refused)."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    if not origin or origin == "null":
        return False
    if _trusted(origin):
        return True
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return origin == f"{scheme}://{host}"


class SocketOriginGuard:
    """Sockets that rely on the session cookie must come from one of our own origins (no
    cross-site WebSocket hijacking); a socket that names its API key in an Authorization header
    is not using an ambient credential, so its Origin (often absent outside browsers) is free."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if b"authorization" in dict(scope.get("headers") or []) or origin_allowed(scope):
            return await self.app(scope, receive, send)
        return await refuse(scope, receive, send)
