"""Events pushed to a user's open tabs over Channels.

This module owns the group names and the message shapes; consumers only forward them. Events
carry ids, status and progress, never prompts or image bytes: the page fetches content over
REST, so a dropped socket loses nothing that a REST call cannot catch up on. The one exception
is ``analysis_delta`` (``analysis.runner``): the answer being written, to its owner's own tabs
only, through the channel layer (messages expire within a minute, nothing is persisted); the
final answer is read over REST like any content.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 5.0

EMBED_UPDATE = "embed_update"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def close_user_sockets(user_id: int, *, session_key: str | None = None, api_key_id: object = None) -> None:
    """Close the user's open sockets: those of one session (on log-out) or of one API key (on
    revocation), or all of them (account gone). A socket authenticates once, when it connects;
    this is what ends it afterwards."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {
        "type": "user.session_ended",
        "session_key": session_key,
        "api_key_id": str(api_key_id) if api_key_id is not None else None,
    }
    try:
        _group_send(layer, user_group(user_id), message)
    except Exception:  # the sessions are already gone; the sockets only lose their next event
        logger.warning("core.realtime.close_failed", exc_info=True)


def send_to_user(user_id: int, event_type: str, payload: dict) -> None:
    """Send one event to every open tab of a user. Failures are logged, never raised: the
    state is already committed and the page catches up over REST."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        message = {"type": "user.event", "event": event_type, "payload": payload}
        _group_send(layer, user_group(user_id), message)
    except Exception:  # a down Redis must not fail the job whose state is already saved
        logger.warning("core.realtime.send_failed event=%s", event_type, exc_info=True)


class _SendLoop:
    """One event loop per process, on its own daemon thread, that every send from sync code runs
    on. ``async_to_sync`` outside an event loop (a worker's thread) starts a new loop per call, and
    channels-redis keeps its Redis connections per loop: every stage notification paid a new loop,
    thread and connection (~25 ms per task together in bench/profile_worker.py). Here the
    connection stays open. Each send still waits for its own completion, so events leave in the
    order they were sent and a failure reaches the caller's log line. Made again after a fork
    (Dramatiq's worker processes), as a thread does not survive one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="events-send-loop", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def run(self, coro: Coroutine) -> None:
        future = asyncio.run_coroutine_threadsafe(coro, self._running_loop())
        try:
            future.result(timeout=SEND_TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            raise


_send_loop = _SendLoop()


def _group_send(layer, group: str, message: dict) -> None:
    """Send from sync code. The in-memory layer (the embedded default) keeps asyncio queues of
    the loop its consumers run on, which another loop's thread must not touch: it keeps
    ``async_to_sync``. Redis-backed layers are safe from any loop and go through ``_send_loop``."""
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.group_send)(group, message)
    else:
        _send_loop.run(layer.group_send(group, message))
