"""Per-user limits that hold when one user sends many requests at once.

A limit is a count followed by an insert; two requests that count at the same moment both see
room and both insert. So every check runs inside ``user_quota_lock``: a transaction that first
takes a lock naming the user, and does the insert before it commits. Concurrent requests of
one user queue on that lock for the few milliseconds of a count and an insert; other users are
not slowed.

* PostgreSQL: a transaction-scoped advisory lock on the user's id (no row is locked, so the
  user's other writes such as ``last_login`` never wait on it).
* SQLite (the embedded default): the transaction itself begins ``IMMEDIATE`` (see settings),
  i.e. with the database's write lock, which serializes every writer anyway.

Generations, edits and reverse searches are counted by their Task rows (every kind costs a
provider call); uploads and crops, which make no task but decode an image in the web process,
by ``UsageEvent`` rows reserved before the image is decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from openmates_images.errors import ApiError

from .conf import conf
from .models import Task, UsageEvent

ACTIVE_STATUSES = (Task.Status.QUEUED, Task.Status.PROCESSING)
WINDOW = timedelta(minutes=1)
_LOCK_NAMESPACE = 0x0117  # the first key of pg_advisory_xact_lock(int, int): "our" locks


@contextmanager
def user_quota_lock(user: AbstractBaseUser) -> Iterator[None]:
    """A transaction in which no other request of this user can check or consume a limit."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # int4 keys: a collision between two users only makes them wait for each other.
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, user.pk % 2_147_483_647]
                )
        yield


def _retry_after(oldest: datetime | None) -> str:
    if oldest is None:
        return "60"
    return str(max(1, int((oldest + WINDOW - timezone.now()).total_seconds()) + 1))


def check_task_limits(user: AbstractBaseUser) -> None:
    """429 when the user made too many tasks in the last minute or has too many running.

    Call inside ``user_quota_lock`` with the Task insert in the same transaction."""
    settings = conf()
    recent = Task.objects.filter(owner=user, created_at__gte=timezone.now() - WINDOW)
    if recent.count() >= settings.RATE_LIMIT_PER_MINUTE:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
        raise ApiError(
            "rate_limited",
            f"Too many image requests: at most {settings.RATE_LIMIT_PER_MINUTE} a minute.",
            status_code=429,
            headers={"Retry-After": _retry_after(oldest)},
        )
    active = Task.objects.filter(owner=user, status__in=ACTIVE_STATUSES)
    if active.count() >= settings.MAX_CONCURRENT_PER_USER:
        raise ApiError(
            "too_many_active_tasks",
            f"You already have {settings.MAX_CONCURRENT_PER_USER} images in progress; "
            "wait for one to finish.",
            status_code=429,
            headers={"Retry-After": "5"},
        )


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
                headers={"Retry-After": _retry_after(oldest)},
            )
        UsageEvent.objects.create(owner=user, kind=UsageEvent.Kind.IMAGE_DECODE, created_at=now)
