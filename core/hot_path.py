"""The two hot reads (``GET /v1/embeds/{id}/file``, ``GET /v1/tasks/{id}``) served in the event
loop under ASGI, without a thread per request.

Each DRF view keeps its sync ``get`` (the API's contract: the schema, Django's test client, any
sync server) and gets an ``async_get`` twin registered with ``async_twin``. Under ASGI the
handler (``openmates_images/handler.py``) sends a GET or HEAD for such a view through the same
middleware hooks, called in the loop, and awaits the twin; everything else goes the one-hop sync
way. The twin answers as DRF would: the same authenticators in the same order
(``accounts.authentication.authenticate_read``, named by HOT_READ_AUTHENTICATOR),
``IsAuthenticated``, the project's exception
handler and JSON renderer (so the same error shapes and bytes), and DRF's ``Allow`` header.
tests/openmates_images/test_handler.py compares the two answers request by request.

What cannot run in the loop runs through ``blocking``: PostgreSQL and SQLite through Django's
ORM, the S3 GET (urllib3) or the local store's file, a keyring unwrap on a data-key cache miss.
Django's own async ORM (``aget``) would run each query on the request's thread-sensitive
thread: a new thread per request under Django's ASGI handler, or, with a shared executor, a
connection taken in one hop and given back in another while other requests queue on the same
thread (bench/RESULTS.md: reused request threads stalled on pool timeouts that way). Here one
call does a request's whole blocking part on a fixed pool of threads and returns its database
connection before it ends (what ``request_finished`` does for a sync request), so no connection
outlives a hop and no thread is started per request.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .errors import exception_handler

P = ParamSpec("P")
R = TypeVar("R")

_io_threads = ThreadPoolExecutor(
    max_workers=int(getattr(settings, "HOT_PATH_IO_THREADS", 8)), thread_name_prefix="hot-io"
)


def _released(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    try:
        return fn(*args, **kwargs)
    finally:
        release_db()


async def blocking(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn`` on the hot path's I/O threads; database connections it opened are given back
    before it returns."""
    return await sync_to_async(_released, thread_sensitive=False, executor=_io_threads)(fn, *args, **kwargs)


def release_db() -> None:
    """Give this thread's database connections back, as ``request_finished`` does for a sync
    request (``close_old_connections``; with the pool or CONN_MAX_AGE=0 the connection returns to
    the pool). Also called early by a blocking call that goes on to wait for something else (the
    object GET after the owner check). A connection inside a transaction is left alone."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


_renderer = JSONRenderer()


@functools.cache
def _authenticator() -> Callable[[HttpRequest], Awaitable[Any]]:
    """settings.HOT_READ_AUTHENTICATOR: the async twin of REST_FRAMEWORK's authentication
    classes (``accounts.authentication.authenticate_read``), named by setting as DRF names them,
    since accounts sits above core."""
    return import_string(settings.HOT_READ_AUTHENTICATOR)


Twin = Callable[..., Awaitable[HttpResponseBase | dict[str, Any]]]


def _drf_headers(view_class: type) -> dict[str, str]:
    """What APIView.finalize_response adds: ``Allow`` (and ``Vary: Accept`` with several
    renderers)."""
    view = view_class()
    if hasattr(view, "get") and not hasattr(view, "head"):
        view.head = view.get  # as View.setup does per request
    return view.default_response_headers


def _render(response: Response) -> Response:
    response.accepted_renderer = _renderer
    response.accepted_media_type = "application/json"
    response.renderer_context = {}
    return response.render()


def async_twin(view_class: type) -> Callable[[Twin], Twin]:
    """Register ``twin(request, user, **url_kwargs)`` as ``view_class``'s ASGI ``async_get``.

    The twin returns an HttpResponse or the JSON body of a 200; it raises what the sync view
    raises (ApiError, DRF's exceptions, the adapters' errors)."""

    def register(twin: Twin) -> Twin:
        drf_headers = _drf_headers(view_class)
        vary = drf_headers.pop("Vary", None)

        @functools.wraps(twin)
        async def serve(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
            try:
                user = await _authenticator()(request)
                answer = await twin(request, user, **kwargs)
                response = answer if isinstance(answer, HttpResponseBase) else Response(answer)
            except Exception as exc:  # as DRF's handle_exception: unknown ones re-raised
                if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
                    exc.auth_header = "Bearer"  # the first authenticator's header, as DRF sends
                response = exception_handler(exc, {"request": request})
                if response is None:
                    raise
                response.exception = True
            if isinstance(response, Response):
                _render(response)
            if vary is not None:
                patch_vary_headers(response, [v.strip() for v in vary.split(",")])
            for header, value in drf_headers.items():
                response[header] = value
            return response

        view_class.async_get = staticmethod(serve)
        return twin

    return register
