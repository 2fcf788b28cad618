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
stay Django's (async, in the event loop).

The two hot reads take no thread of their own (``core.hot_path``): a GET or HEAD
whose view has an ``async_get`` twin runs in the event loop through the same middleware's
hooks, called inline (``_LoopChain``): every middleware here does only in-memory work on a
safe request's way in and out, the session being read lazily (on the hot path's I/O threads,
by the authentication). A middleware of a kind the loop chain does not know turns the hot path
off: everything then goes the one-hop way. The ``request_started``/``request_finished``
signals are not sent for these requests: Django's receivers reset the query log and close the
request's database connections, which the hot path's blocking calls give back themselves.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, ResolverMatch, get_resolver, set_script_prefix
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

SAFE_METHODS = ("GET", "HEAD")


def _noop(request: HttpRequest) -> None:  # the loop chain calls hooks, never get_response
    raise AssertionError("not called")


class _LoopChain:
    """settings.MIDDLEWARE's hooks called in the event loop, in Django's order: each
    ``process_request`` outermost first (one that answers stops the way in), every
    ``process_view``, the async view, then ``process_response`` innermost first; an exception
    becomes a response where Django's chain would turn it into one."""

    def __init__(self, mixins: list[MiddlewareMixin], around_view: list, whitenoise) -> None:
        self.mixins = mixins
        self.around_view = around_view  # sync-and-async function middleware, innermost last
        self.whitenoise = whitenoise

    @classmethod
    def from_settings(cls) -> _LoopChain | None:
        """The loop chain, or None when a middleware is of a kind it cannot call inline (or
        ASYNC_HOT_READS is off)."""
        from whitenoise.middleware import WhiteNoiseMiddleware

        if not getattr(settings, "ASYNC_HOT_READS", True):
            return None

        mixins: list[MiddlewareMixin] = []
        around_view: list = []
        whitenoise = None
        for path in settings.MIDDLEWARE:
            factory = import_string(path)
            if isinstance(factory, type) and issubclass(factory, WhiteNoiseMiddleware):
                whitenoise = factory(_noop)
            elif isinstance(factory, type) and issubclass(factory, MiddlewareMixin):
                if around_view:
                    return None  # a hook-style middleware inside a wrapping one: order would change
                middleware = factory(_noop)
                if any(hasattr(middleware, h) for h in ("process_exception", "process_template_response")):
                    return None  # hooks the loop chain does not call
                mixins.append(middleware)
            elif getattr(factory, "async_capable", False):
                around_view.append(factory)
            else:
                return None
        return cls(mixins, around_view, whitenoise)

    def serves_static(self, path_info: str) -> bool:
        if self.whitenoise is None:
            return False
        if self.whitenoise.autorefresh:
            return self.whitenoise.find_file(path_info) is not None
        return self.whitenoise.files.get(path_info) is not None

    async def __call__(self, request: HttpRequest, match: ResolverMatch, view) -> HttpResponseBase:
        response = None
        entered = 0
        for middleware in self.mixins:
            hook = getattr(middleware, "process_request", None)
            try:
                response = hook(request) if hook is not None else None
            except Exception as exc:  # Django's convert_exception_to_response
                response = response_for_exception(request, exc)
            if response is not None:
                break
            entered += 1
        if response is None:
            response = await self._view(request, match, view)
        for middleware in reversed(self.mixins[:entered]):
            if hasattr(middleware, "process_response"):
                response = await self._process_response(middleware, request, response)
        return response

    async def _view(self, request: HttpRequest, match: ResolverMatch, view) -> HttpResponseBase:
        for middleware in self.mixins:
            if hasattr(middleware, "process_view"):
                response = middleware.process_view(request, match.func, match.args, match.kwargs)
                if response is not None:
                    return response

        async def call_view(request: HttpRequest) -> HttpResponseBase:
            try:
                return await view(request, *match.args, **match.kwargs)
            except Exception as exc:
                return response_for_exception(request, exc)

        handler = call_view
        for factory in reversed(self.around_view):
            handler = factory(handler)
        return await handler(request)

    @staticmethod
    async def _process_response(middleware, request, response) -> HttpResponseBase:
        session = getattr(request, "session", None)
        if session is not None and session.modified:
            # SessionMiddleware saves a modified session (a database write): off the loop.
            from core.hot_path import blocking

            return await blocking(middleware.process_response, request, response)
        return middleware.process_response(request, response)


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)  # ASGIHandler.__init__ would build the async chain first
        self.load_middleware(is_async=False)
        self._loop_chain = _LoopChain.from_settings()

    def loop_view(self, scope: dict[str, Any]):
        """(match, async view) when this request is served in the event loop, else None."""
        if self._loop_chain is None or scope["type"] != "http" or scope["method"] not in SAFE_METHODS:
            return None
        root = scope.get("root_path", "")
        path_info = scope["path"].removeprefix(root) if root else scope["path"]
        try:
            match = get_resolver().resolve(path_info)
        except Resolver404:
            return None
        view = getattr(getattr(match.func, "view_class", None), "async_get", None)
        if view is None or not iscoroutinefunction(view) or self._loop_chain.serves_static(path_info):
            return None
        return match, view

    async def __call__(self, scope, receive, send) -> None:
        found = self.loop_view(scope)
        if found is None:
            return await super().__call__(scope, receive, send)
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix_for(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            return
        match, view = found
        request.resolver_match = match
        response = await self._loop_chain(request, match, view)
        response._handler_class = self.__class__
        await self.send_response(response, send)
        for closer in response._resource_closers:
            closer()
        body_file.close()

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # thread_sensitive: the request's one thread (Django's ThreadSensitiveContext per
        # request), where response.close() and its request_finished receivers run too.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_script_prefix_for(scope: dict[str, Any]) -> str:
    from django.core.handlers.asgi import get_script_prefix

    return get_script_prefix(scope)


def get_asgi_application() -> OneHopASGIHandler:
    """``django.core.asgi.get_asgi_application`` with this handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
