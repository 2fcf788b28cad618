"""A bounded cache of unwrapped data keys in the web process, in the style of the AWS
Encryption SDK's caching materials manager.

Serving a file used to cost a keyring unwrap (a Vault round trip) per request. Reads of a
finished embed (file, content, task polls) take the data key from here when the same process
unwrapped it recently. What it trades: an unwrapped key lives in this process's memory for up
to ``DATA_KEY_CACHE_SECONDS`` (default 300 s) or ``DATA_KEY_CACHE_MAX_USES`` reads (1000),
instead of for one request; at most ``DATA_KEY_CACHE_MAX_ENTRIES`` keys (1000) are held, least
recently used first out. Keys never leave memory: not the database, Redis, a message or a log.
``DATA_KEY_CACHE_SECONDS=0`` turns it off.

Crypto-shredding still works at once: deleting an embed or an account forgets its keys here and
bumps the ``data_keys`` epoch (``core.epochs``), so every other process drops its
whole cache on its next read. A read also needs the embed's row (and its owner's) first, so a
deleted embed's key could not be asked for anyway. Entries are keyed by the embed and its
wrapped key, so a re-wrapped key is unwrapped afresh.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from core import epochs

from ..conf import conf

EPOCH = "data_keys"


@dataclass
class _Entry:
    owner_id: int
    data_key: bytes = field(repr=False)  # never in a log line or a traceback's locals dump
    expires_at: float = 0.0
    uses_left: int = 0


class DataKeyCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[uuid.UUID, str], _Entry] = OrderedDict()
        self._epoch: int | None = None

    @staticmethod
    def enabled() -> bool:
        return conf().DATA_KEY_CACHE_SECONDS > 0

    def _current(self) -> bool:
        """Whether this process's entries are still valid: drops them all when another process
        (or this one) bumped the epoch since they were filled. False when it cannot tell."""
        epoch = epochs.read(EPOCH)
        if epoch is None:
            return False
        with self._lock:
            if epoch != self._epoch:
                self._entries.clear()
                self._epoch = epoch
        return True

    def get(self, embed_id: uuid.UUID, wrapped_key: str) -> bytes | None:
        """The cached data key, counting one use; None on a miss (or with the cache off)."""
        if not self.enabled() or not self._current():
            return None
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get((embed_id, wrapped_key))
            if entry is None:
                return None
            if entry.expires_at <= now or entry.uses_left <= 0:
                del self._entries[(embed_id, wrapped_key)]
                return None
            entry.uses_left -= 1
            self._entries.move_to_end((embed_id, wrapped_key))
            return entry.data_key

    def put(self, embed_id: uuid.UUID, owner_id: int, wrapped_key: str, data_key: bytes) -> None:
        settings = conf()
        if settings.DATA_KEY_CACHE_SECONDS <= 0 or settings.DATA_KEY_CACHE_MAX_ENTRIES <= 0:
            return
        with self._lock:
            if self._epoch is None:  # never checked: nothing says these keys are current
                return
            self._entries[(embed_id, wrapped_key)] = _Entry(
                owner_id=owner_id,
                data_key=data_key,
                expires_at=time.monotonic() + settings.DATA_KEY_CACHE_SECONDS,
                uses_left=settings.DATA_KEY_CACHE_MAX_USES,
            )
            self._entries.move_to_end((embed_id, wrapped_key))
            while len(self._entries) > settings.DATA_KEY_CACHE_MAX_ENTRIES:
                self._entries.popitem(last=False)

    def forget_embed(self, embed_id: uuid.UUID) -> None:
        """Drop the embed's key here and make every other process drop its cache."""
        with self._lock:
            for cache_key in [k for k in self._entries if k[0] == embed_id]:
                del self._entries[cache_key]
        epochs.bump(EPOCH)

    def forget_owner(self, owner_id: int) -> None:
        """Drop every key of one user here and make every other process drop its cache."""
        with self._lock:
            for cache_key in [k for k, e in self._entries.items() if e.owner_id == owner_id]:
                del self._entries[cache_key]
        epochs.bump(EPOCH)

    def clear(self) -> None:
        """Drop every key here and make every other process drop its cache."""
        with self._lock:
            self._entries.clear()
        epochs.bump(EPOCH)

    def __contains__(self, embed_id: uuid.UUID) -> bool:
        """Whether any key of the embed is held here (for tests and diagnostics; no key leaks)."""
        with self._lock:
            return any(k[0] == embed_id for k in self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


data_keys = DataKeyCache()
