"""Django's ASGI handler with the middleware chain run in sync mode: one thread hop per request.

Django's own ASGI handler runs the chain in async mode. Every middleware here is a
``MiddlewareMixin`` (Django's and WhiteNoise's), which under async mode runs its
``process_request`` and ``process_response`` each through ``sync_to_async``; WhiteNoise is
sync-only, so the chain switches back with ``async_to_sync`` below it, and every sync view
hops once more: about fifteen hand-offs between the event loop and the request's thread for
one GET (bench/profile_hot_paths.py: ``/healthz`` 0.2 ms in-process, 1.7–2.8 ms through
Django's ASGI handler). Here the whole chain and the view run in one ``sync_to_async`` call, as
under WSGI: the same middleware, in the same order, with the same behaviour (authentication,
CSRF, sessions, security headers, error shapes), reached in one hop.

Each request still gets a new thread of its own (Django's ``ThreadSensitiveContext``), so
thread-locals such as the database connection never mix two requests. Reusing those threads
(a pool of single-thread executors) cut ``/healthz`` further in-process, but under the
benchmark's 32 clients two runs of three stalled the download row on PostgreSQL pool timeouts,
for a cause not found in time: it is not done (bench/RESULTS.md).

Reading the body, the ``request_started``/``request_finished`` signals and sending the response
stay Django's (async, in the event loop). No view of this project is ``async def``; one would
still work (Django runs it with ``async_to_sync`` inside the chain).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)  # ASGIHandler.__init__ would build the async chain first
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # thread_sensitive: the request's one thread (Django's ThreadSensitiveContext per
        # request), where response.close() and its request_finished receivers run too.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> OneHopASGIHandler:
    """``django.core.asgi.get_asgi_application`` with this handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
