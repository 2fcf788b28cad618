"""Cross-process invalidation counters ("epochs") for the web process's in-memory caches.

A cache entry remembers the epoch it was filled under and is used only while the epoch is
unchanged. Whatever makes entries wrong (a revoked API key, a deleted embed or account) bumps
the epoch right away and again when its transaction commits, so every process drops its entries
on its next request: there is no window in which another process serves a stale entry, beyond
the few microseconds of the request that is already past its check.

With Redis (the full stack) an epoch is one Redis integer, read with one GET per check. Without
Redis (the embedded default: one web process with in-process workers, since the in-memory
channel layer cannot span processes either) it is a counter in this process. If Redis cannot be
read, ``read`` answers None and callers bypass their cache: an outage costs speed, never a
revocation.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import defaultdict
from functools import cache

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_local: defaultdict[str, int] = defaultdict(int)


@cache
def _redis():
    if not settings.REDIS_URL:
        return None
    import redis

    # Short timeouts: a check that cannot answer quickly bypasses the cache instead of waiting.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)


# redis.asyncio clients are bound to the event loop they first ran on: one per loop.
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _async_redis():
    import redis.asyncio

    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
        )
    return client


def _key(name: str) -> str:
    # One deployment is one database: its name keeps deployments (and test runs) sharing a
    # Redis apart. Read per call: the test runner renames the database after startup (in the
    # settings too, which an event loop may read without opening a database connection).
    return f"omi:epoch:{settings.DATABASES['default']['NAME']}:{name}"


def read(name: str) -> int | None:
    """The current epoch of ``name``, or None when it cannot be known (do not use the cache)."""
    client = _redis()
    if client is None:
        return _local[name]
    import redis

    try:
        value = client.get(_key(name))
    except redis.RedisError as exc:
        logger.warning("epochs.read_failed name=%s error=%s", name, type(exc).__name__)
        return None
    return int(value or 0)


async def aread(name: str) -> int | None:
    """``read`` for the event loop (the hot reads in ``core.hot_path``): the same
    answer without blocking the loop or taking a thread."""
    if not settings.REDIS_URL:
        return _local[name]
    import redis

    try:
        value = await _async_redis().get(_key(name))
    except (TimeoutError, redis.RedisError, OSError) as exc:
        logger.warning("epochs.read_failed name=%s error=%s", name, type(exc).__name__)
        return None
    return int(value or 0)


def _increment(name: str) -> None:
    with _lock:
        _local[name] += 1
    client = _redis()
    if client is None:
        return
    import redis

    try:
        client.incr(_key(name))
    except redis.RedisError as exc:
        # Other processes keep their entries until their maximum age: say so loudly.
        logger.error("epochs.bump_failed name=%s error=%s", name, type(exc).__name__)


def bump(name: str) -> None:
    """Invalidate every process's entries under ``name``: now, and again after the current
    transaction commits (so no process can refill its cache from the pre-commit rows under the
    new epoch and keep that entry)."""
    _increment(name)
    transaction.on_commit(lambda: _increment(name))
