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

Each request still gets a thread of its own for the duration (Django's
``ThreadSensitiveContext``, so thread-locals such as the database connection never mix two
requests), but the threads are reused: Django starts a new one per request. At most
``IDLE_THREADS`` wait between requests; beyond that a finished request's thread ends.

Reading the body, the ``request_started``/``request_finished`` signals and sending the response
stay Django's (async, in the event loop). No view of this project is ``async def``; one would
still work (Django runs it with ``async_to_sync`` inside the chain).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase

IDLE_THREADS = 64


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)  # ASGIHandler.__init__ would build the async chain first
        self.load_middleware(is_async=False)
        self._idle: list[ThreadPoolExecutor] = []  # touched only on the event loop's thread

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # One call at a time on one thread: a request's thread-sensitive calls, as in Django.
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(max_workers=1)
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < IDLE_THREADS:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # thread_sensitive: the request's one thread (Django's ThreadSensitiveContext per
        # request), where response.close() and its request_finished receivers run too.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> OneHopASGIHandler:
    """``django.core.asgi.get_asgi_application`` with this handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
