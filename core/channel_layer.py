"""The Redis channel layer, with its per-channel receive lock made safe to cancel.

channels-redis 4.3's ``ChannelLock.acquire`` counts a waiter before it waits and never uncounts
one whose wait is cancelled (a socket closing mid-receive, ``asyncio.wait_for`` around a
receive). The count then never returns to zero, so the lock is never dropped: it stays bound to
the event loop it first waited on, and the next receive on another loop (a management command, a
test, anything run through ``async_to_sync``) fails with "bound to a different event loop" or
waits forever. Upstream: django/channels_redis#313. Here a cancelled waiter uncounts itself, so a
released lock with no waiters is dropped, as the class intends.
"""

from __future__ import annotations

from channels_redis.core import ChannelLock
from channels_redis.core import RedisChannelLayer as _RedisChannelLayer


class CancelSafeChannelLock(ChannelLock):
    async def acquire(self, channel: str) -> bool:
        self.wait_counts[channel] += 1
        try:
            return await self.locks[channel].acquire()
        except BaseException:  # cancelled (or failed) before holding it: no longer a waiter
            self.wait_counts[channel] -= 1
            if self.wait_counts[channel] < 1 and not self.locks[channel].locked():
                del self.locks[channel]
                del self.wait_counts[channel]
            raise


class RedisChannelLayer(_RedisChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.receive_clean_locks = CancelSafeChannelLock()
