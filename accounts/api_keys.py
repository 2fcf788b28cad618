"""Creating, checking and revoking API keys.

A raw key looks like ``omi_<prefix>_<secret>``. Only ``key_hash`` (HMAC-SHA256 keyed by a
purpose-salted derivative of SECRET_KEY) is stored; the raw key is returned once, at creation.
HMAC rather than a slow hash: the secret part has 256 bits of entropy, so brute force is moot,
and a lookup by hash keeps every authenticated request at one indexed query.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import api_key_cache
from .models import ApiKey

KEY_PREFIX = "omi"
_HASH_SALT = "openmates_images.accounts.api_key"
# Touching last_used_at on every request would turn reads into writes; once a minute is enough.
_LAST_USED_RESOLUTION_SECONDS = 60


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    raw_key: str


def hash_api_key(raw_key: str) -> str:
    return salted_hmac(_HASH_SALT, raw_key, algorithm="sha256").hexdigest()


@transaction.atomic
def do_create_api_key(user: AbstractBaseUser, *, name: str = "default") -> CreatedApiKey:
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        user=user, name=name[:100] or "default", prefix=prefix, key_hash=hash_api_key(raw_key)
    )
    return CreatedApiKey(api_key=api_key, raw_key=raw_key)


def _well_formed(raw_key: str) -> bool:
    return raw_key.startswith(f"{KEY_PREFIX}_") and len(raw_key) <= 200


def _last_used_is_stale(api_key: ApiKey, now) -> bool:
    return (
        api_key.last_used_at is None
        or (now - api_key.last_used_at).total_seconds() > _LAST_USED_RESOLUTION_SECONDS
    )


def get_user_for_api_key(raw_key: str) -> tuple[AbstractBaseUser, ApiKey] | None:
    """The active key's user, or None. Records when the key was last used.

    Lookups go through ``api_key_cache``, which any revocation empties at once."""
    if not _well_formed(raw_key):
        return None
    key_hash = hash_api_key(raw_key)

    def load() -> tuple[AbstractBaseUser, ApiKey] | None:
        try:  # get(), not first(): the hash is unique, and an ORDER BY costs ~0.3 ms to compile
            api_key = ApiKey.objects.select_related("user").get(
                key_hash=key_hash, revoked_at__isnull=True, user__is_active=True
            )
        except ApiKey.DoesNotExist:
            return None
        return api_key.user, api_key

    found = api_key_cache.lookup(key_hash, load)
    if found is None:
        return None
    user, api_key = found
    now = timezone.now()
    if _last_used_is_stale(api_key, now):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)  # update(): no save signal
        api_key.last_used_at = now
        api_key_cache.remember_last_used(key_hash, now)
    return user, api_key


async def aget_user_for_api_key(raw_key: str) -> tuple[AbstractBaseUser, ApiKey] | None:
    """``get_user_for_api_key`` for the event loop: a warm cache entry answers with one awaited
    epoch read and no thread; anything else (a miss, a ``last_used_at`` to write, the cache off
    or Redis unreadable) runs the sync lookup once on the hot path's I/O threads."""
    # Imported here: core.hot_path imports DRF's views, whose settings import our
    # authentication class, which imports this module.
    from core.hot_path import blocking

    if not _well_formed(raw_key):
        return None
    found = await api_key_cache.alookup(hash_api_key(raw_key))
    if found is not None and not _last_used_is_stale(found[1], timezone.now()):
        return found
    return await blocking(get_user_for_api_key, raw_key)


def do_revoke_api_key(api_key: ApiKey) -> None:
    """Revoke the key: requests with it are refused from now on, and sockets it opened close."""
    from core.realtime import close_user_sockets

    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        transaction.on_commit(lambda: close_user_sockets(api_key.user_id, api_key_id=api_key.pk))
