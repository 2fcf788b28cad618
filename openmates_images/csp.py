"""A strict Content-Security-Policy on every HTML page.

The UI loads nothing from third parties and runs no inline script, so the policy costs
nothing and turns an injected ``<script>`` (or a foreign stylesheet, frame, form target or
beacon) into a blocked request. Two allowances, both narrow:

* ``style-src-attr 'unsafe-inline'``: templates set CSS variables in ``style`` attributes (the
  pen colours); a style attribute cannot run script, and ``img-src``/``font-src 'self'`` keep it
  from loading anything foreign.
* The API docs page (Swagger UI, from our static files) ships an inline ``<style>`` block and
  injects styles at run time, so it gets ``style-src 'unsafe-inline'``; its script is served as
  a file (SpectacularSwaggerSplitView), so ``script-src`` stays ``'self'`` there too.

``connect-src`` names the page's own ``ws(s)://`` origin explicitly: older browsers do not
count a WebSocket to the same host as ``'self'``.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

DOCS_PATH = "/v1/docs"


def policy(request: HttpRequest) -> str:
    host = request.get_host()
    socket_origin = f"{'wss' if request.is_secure() else 'ws'}://{host}"
    styles = "'self' 'unsafe-inline'" if request.path == DOCS_PATH else "'self'"
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            f"style-src {styles}",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' blob: data:",
            "font-src 'self'",
            f"connect-src 'self' {socket_origin}",
            "manifest-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )


def _with_policy(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.get("Content-Type", "").startswith("text/html"):
        response.setdefault("Content-Security-Policy", policy(request))
    return response


@sync_and_async_middleware
def content_security_policy(get_response: Callable):
    """Adds the policy to HTML responses (sync and async: no thread hop for async views)."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            return _with_policy(request, await get_response(request))

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            return _with_policy(request, get_response(request))

    return middleware
