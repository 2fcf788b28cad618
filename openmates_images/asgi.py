"""ASGI entry point: HTTP through Django, WebSockets through Channels.

In the embedded default (no REDIS_URL) the web process also runs the Dramatiq workers.
"""

import os

from openmates_images.handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmates_images.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from accounts.authentication import ApiKeySocketAuthMiddleware  # noqa: E402
from generation.broker import start_inprocess_workers  # noqa: E402
from generation.routing import websocket_urlpatterns  # noqa: E402
from openmates_images.body_limit import BodySizeLimit  # noqa: E402

start_inprocess_workers()


class SocketOriginGuard:
    """Sockets that rely on the session cookie must come from one of our own origins (no
    cross-site WebSocket hijacking); a socket that names its API key in an Authorization header
    is not using an ambient credential, so its Origin (often absent outside browsers) is free."""

    def __init__(self, app) -> None:
        self.app = app
        self.same_origin_only = AllowedHostsOriginValidator(app)

    async def __call__(self, scope, receive, send):
        if b"authorization" in dict(scope.get("headers") or []):
            return await self.app(scope, receive, send)
        return await self.same_origin_only(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),
        "websocket": SocketOriginGuard(
            AuthMiddlewareStack(ApiKeySocketAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
