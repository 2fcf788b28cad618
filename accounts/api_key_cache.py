"""A per-process cache of API-key lookups that revocation empties at once, in every process.

Every authenticated request used to pay an ORM query (compiled each time) for its key. Here a
hit costs one epoch read (``core.epochs``: a Redis GET on the full stack) instead.
Entries are keyed by the key's HMAC (never the raw key), hold the key's and user's rows as
loaded, and are used only while the ``api_keys`` epoch is the one they were filled under and
for at most ``API_KEY_CACHE_SECONDS`` (0 turns the cache off). Saving or deleting any API key
or user (revocation, deactivation, account deletion, a password change) bumps the epoch, so
the next request in any process goes to the database again. Unknown keys are never cached.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models.signals import post_delete, post_save

from core import epochs

from .models import ApiKey

EPOCH = "api_keys"
MAX_ENTRIES = 10_000

# (user, api_key), as get_user_for_api_key answers it
Found = tuple[AbstractBaseUser, ApiKey]


@dataclass(frozen=True)
class _Entry:
    user: AbstractBaseUser
    api_key: ApiKey
    epoch: int
    expires_at: float


_lock = threading.Lock()
_entries: OrderedDict[str, _Entry] = OrderedDict()


def _max_age() -> float:
    return float(getattr(settings, "API_KEY_CACHE_SECONDS", 0))


def lookup(key_hash: str, load: Callable[[], Found | None]) -> Found | None:
    """The (user, api_key) for a key hash: from the cache while it is valid, else ``load()``.

    Each caller gets its own copies of the rows, so a view changing ``request.user`` changes
    nothing another request sees."""
    max_age = _max_age()
    if max_age <= 0:
        return load()
    epoch = epochs.read(EPOCH)  # before loading: a bump after this read invalidates what we store
    if epoch is None:
        return load()
    now = time.monotonic()
    hit = _hit(key_hash, epoch, now)
    if hit is not None:
        return hit
    found = load()
    with _lock:
        if found is None:
            _entries.pop(key_hash, None)
        else:
            _entries[key_hash] = _Entry(copy.copy(found[0]), copy.copy(found[1]), epoch, now + max_age)
            _entries.move_to_end(key_hash)
            while len(_entries) > MAX_ENTRIES:
                _entries.popitem(last=False)
    return found


def _hit(key_hash: str, epoch: int, now: float) -> Found | None:
    with _lock:
        entry = _entries.get(key_hash)
    if entry is not None and entry.epoch == epoch and entry.expires_at > now:
        return copy.copy(entry.user), copy.copy(entry.api_key)
    return None


async def alookup(key_hash: str) -> Found | None:
    """A valid cached entry for the event loop (the epoch read awaited, no thread), or None:
    the caller then takes ``lookup``'s path (the cache off, a miss, Redis unreadable)."""
    if _max_age() <= 0:
        return None
    epoch = await epochs.aread(EPOCH)
    if epoch is None:
        return None
    return _hit(key_hash, epoch, time.monotonic())


def remember_last_used(key_hash: str, last_used_at) -> None:
    """Keep the cached row's ``last_used_at`` current, so a hit knows when it last wrote it."""
    with _lock:
        entry = _entries.get(key_hash)
        if entry is not None:
            entry.api_key.last_used_at = last_used_at


def clear() -> None:
    """Empty this process's cache and invalidate every other process's."""
    with _lock:
        _entries.clear()
    epochs.bump(EPOCH)


def _on_key_saved(sender, instance, created: bool, **kwargs) -> None:
    if not created:  # a new key is not in any cache yet
        clear()


def _on_user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    # Logging in writes last_login only: nothing a cached entry answers changes.
    if not created and not (update_fields and set(update_fields) <= {"last_login"}):
        clear()


def _on_deleted(sender, instance, **kwargs) -> None:
    clear()


post_save.connect(_on_key_saved, sender=ApiKey, dispatch_uid="api_key_cache.key_saved")
post_delete.connect(_on_deleted, sender=ApiKey, dispatch_uid="api_key_cache.key_deleted")
post_save.connect(_on_user_saved, sender=get_user_model(), dispatch_uid="api_key_cache.user_saved")
post_delete.connect(_on_deleted, sender=get_user_model(), dispatch_uid="api_key_cache.user_deleted")
