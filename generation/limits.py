"""Per-user limits on tasks: how many a minute, how many at once.

Every kind of task (generate, edit, reverse search, analysis) costs a provider call and is
counted by its Task row. The check runs inside ``core.quota.user_quota_lock`` with the insert
in the same transaction, so concurrent requests of one user cannot both pass it (see there).
Uploads and crops make no task; their limit is ``embeds.limits``.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from core.errors import ApiError
from core.quota import WINDOW, retry_after

from .conf import conf
from .models import Task

ACTIVE_STATUSES = (Task.Status.QUEUED, Task.Status.PROCESSING)


def check_task_limits(user: AbstractBaseUser, *, adding: int = 1) -> None:
    """429 when the ``adding`` tasks about to be inserted (a request's variants) would make too
    many in the last minute or too many running: a request is refused as a whole, never cut short.

    Call inside ``user_quota_lock`` with the Task inserts in the same transaction."""
    settings = conf()
    recent = Task.objects.filter(owner=user, created_at__gte=timezone.now() - WINDOW)
    if recent.count() + adding > settings.RATE_LIMIT_PER_MINUTE:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
        raise ApiError(
            "rate_limited",
            f"Too many image requests: at most {settings.RATE_LIMIT_PER_MINUTE} a minute.",
            status_code=429,
            headers={"Retry-After": retry_after(oldest)},
        )
    active = Task.objects.filter(owner=user, status__in=ACTIVE_STATUSES).count()
    if active + adding > settings.MAX_CONCURRENT_PER_USER:
        limit = settings.MAX_CONCURRENT_PER_USER
        raise ApiError(
            "too_many_active_tasks",
            f"You already have {limit} images in progress; wait for one to finish."
            if adding == 1
            else f"At most {limit} images can be in progress at once: you have {active}, "
            f"and this request makes {adding}.",
            status_code=429,
            headers={"Retry-After": "5"},
        )
