"""Fetch-and-authorize for tasks: another user's id answers exactly like a missing one."""

from __future__ import annotations

from embeds.access import parse_uuid
from openmates_images.errors import ApiError

from .models import Task


def access_task(user, task_id: object, *, only: tuple[str, ...] | None = None) -> Task:
    """The user's task with its embed, in one query; ``only``: the columns to load (a poll)."""
    tasks = Task.objects.select_related("embed")
    if only is not None:
        tasks = tasks.only(*only)
    try:  # get(), not first(): a lookup by primary key needs no ORDER BY (compiling one costs)
        return tasks.get(pk=parse_uuid(task_id), owner=user)
    except Task.DoesNotExist:
        raise ApiError("not_found", "Not found.", status_code=404) from None
