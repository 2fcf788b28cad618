"""Per-client-IP rate limit for the share pages: a fixed window counted in Django's cache.

Share ids are 128 random bits, so guessing is hopeless anyway; the limit stops a client from
hammering the pages (or trying passwords) at machine speed. The client IP is REMOTE_ADDR: put
the app behind a proxy that sets it (uvicorn --proxy-headers), never trust a header here.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

WINDOW_SECONDS = 60


def per_minute() -> int:
    return settings.SHARE_RATE_PER_MINUTE


def allow(request: HttpRequest) -> bool:
    """Count this request against its IP; False once the IP has used up its minute."""
    ip = request.META.get("REMOTE_ADDR", "")
    window = int(time.time() // WINDOW_SECONDS)
    # The IP is stored hashed: the cache need not keep a list of who looked at shares.
    key = "share-rate:" + salted_hmac("sharing.rate", f"{ip}|{window}").hexdigest()[:32]
    if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
        return True
    return count <= per_minute()
