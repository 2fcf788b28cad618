"""The channel layer's per-channel receive lock survives a waiter cancelled while it waits, so
the next event loop (another ``async_to_sync`` call, the next test) can still take it. With
channels-redis's own lock the count of waiters never returns to zero, the lock stays bound to
the first loop, and the second loop fails with "bound to a different event loop"."""

from __future__ import annotations

import asyncio

import pytest
from channels_redis.core import ChannelLock

from core.channel_layer import CancelSafeChannelLock, RedisChannelLayer

CHANNEL = "prefix.specific.abc!"


async def _a_waiter_is_cancelled(lock: ChannelLock) -> None:
    """One holder (the message's backup cleaner), one receive waiting behind it, cancelled."""
    await lock.acquire(CHANNEL)
    waiter = asyncio.ensure_future(lock.acquire(CHANNEL))
    await asyncio.sleep(0)  # it waits: the lock is now bound to this loop
    waiter.cancel()
    (outcome,) = await asyncio.gather(waiter, return_exceptions=True)
    assert isinstance(outcome, asyncio.CancelledError)
    lock.release(CHANNEL)


async def _two_take_turns(lock: ChannelLock) -> None:
    await lock.acquire(CHANNEL)
    second = asyncio.ensure_future(lock.acquire(CHANNEL))
    await asyncio.sleep(0)
    lock.release(CHANNEL)
    await asyncio.wait_for(second, 1)
    lock.release(CHANNEL)


def test_a_cancelled_waiter_leaves_the_lock_usable_from_the_next_event_loop():
    lock = CancelSafeChannelLock()
    asyncio.run(_a_waiter_is_cancelled(lock))
    assert dict(lock.locks) == {} and dict(lock.wait_counts) == {}  # dropped, as intended
    asyncio.run(_two_take_turns(lock))
    assert dict(lock.wait_counts) == {}


def test_a_waiter_cancelled_while_another_waits_keeps_the_lock_for_it():
    async def scenario() -> None:
        lock = CancelSafeChannelLock()
        await lock.acquire(CHANNEL)
        cancelled = asyncio.ensure_future(lock.acquire(CHANNEL))
        patient = asyncio.ensure_future(lock.acquire(CHANNEL))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        lock.release(CHANNEL)
        assert await asyncio.wait_for(patient, 1) is True and lock.locked(CHANNEL)
        lock.release(CHANNEL)
        assert dict(lock.wait_counts) == {}

    asyncio.run(scenario())


def test_the_stock_lock_has_the_fault_this_one_fixes():
    """Guards the tests above: when channels-redis fixes its lock this fails, and
    ``core.channel_layer`` can go."""
    lock = ChannelLock()
    asyncio.run(_a_waiter_is_cancelled(lock))
    with pytest.raises(RuntimeError, match="different event loop"):
        asyncio.run(_two_take_turns(lock))


def test_the_configured_layer_uses_the_cancel_safe_lock(settings):
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    assert isinstance(layer.receive_clean_locks, CancelSafeChannelLock)
