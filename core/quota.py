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

The limits themselves live with what they count: tasks in ``generation.limits``, image
decodes (uploads, crops) in ``embeds.limits``. Both share this one lock, so a user's uploads
and generations are counted under the same serialization.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

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


def retry_after(oldest: datetime | None) -> str:
    """Seconds (as a Retry-After value) until the oldest counted use leaves the window."""
    if oldest is None:
        return "60"
    return str(max(1, int((oldest + WINDOW - timezone.now()).total_seconds()) + 1))
