"""ASGI entry point: HTTP through Django, WebSockets through Channels.

In the embedded default (no REDIS_URL) the web process also runs the Dramatiq workers.
"""

import os

from openmates_images.handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmates_images.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.authentication import ApiKeySocketAuthMiddleware  # noqa: E402
from chats.routing import websocket_urlpatterns  # noqa: E402
from generation.broker import start_inprocess_workers  # noqa: E402
from openmates_images.body_limit import BodySizeLimit  # noqa: E402
from openmates_images.socket_origin import SocketOriginGuard  # noqa: E402

start_inprocess_workers()


application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),
        "websocket": SocketOriginGuard(
            AuthMiddlewareStack(ApiKeySocketAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
