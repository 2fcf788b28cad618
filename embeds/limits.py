"""The per-minute limit on image decodes (uploads and crops), which make no task.

An upload or crop decodes an image in the web process, so a burst of them costs memory and CPU
before anything is stored. Each is counted by a ``UsageEvent`` row reserved, under the user's
quota lock (``core.quota``), before the image is decoded.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from core.errors import ApiError
from core.quota import WINDOW, retry_after, user_quota_lock

from .conf import conf
from .models import UsageEvent


def reserve_upload(user: AbstractBaseUser) -> None:
    """Count one image decode (upload or crop) against the user's per-minute limit, or 429.

    The reservation is committed before the image is decoded, so a burst is refused before it
    costs any memory; a decode that then fails still counts (it cost the CPU)."""
    limit = conf().UPLOAD_RATE_LIMIT_PER_MINUTE
    now = timezone.now()
    with user_quota_lock(user):
        recent = UsageEvent.objects.filter(owner=user, kind=UsageEvent.Kind.IMAGE_DECODE)
        recent.filter(created_at__lt=now - WINDOW).delete()  # the log only needs the last minute
        if recent.count() >= limit:
            oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
            raise ApiError(
                "rate_limited",
                f"Too many uploads: at most {limit} images a minute.",
                status_code=429,
                headers={"Retry-After": retry_after(oldest)},
            )
        UsageEvent.objects.create(owner=user, kind=UsageEvent.Kind.IMAGE_DECODE, created_at=now)
