"""Fetch-and-authorize for tasks: another user's id answers exactly like a missing one."""

from __future__ import annotations

from functools import cache

from django.db import connection

from core.errors import ApiError
from embeds.access import parse_uuid
from embeds.models import Embed

from .models import Task
from .presenters import TASK_PAYLOAD_FIELDS

# What a poll reads of the task's embed: its state and, for a completed task's file metadata,
# its sealed content and wrapped key.
_POLL_EMBED_FIELDS = ("owner_id", "type", "status", "wrapped_key", "encrypted_content")


def access_task(user, task_id: object) -> Task:
    try:  # get(), not first(): a lookup by primary key needs no ORDER BY (compiling one costs)
        return Task.objects.select_related("embed").get(pk=parse_uuid(task_id), owner=user)
    except Task.DoesNotExist:
        raise ApiError("not_found", "Not found.", status_code=404) from None


@cache
def _poll_sql(vendor: str) -> str:
    """The poll's one query, written once per database vendor: the ORM compiled the same join on
    every poll (~60 % of a poll's time in bench/profile_hot_paths.py)."""
    quote = connection.ops.quote_name
    task_columns = [Task._meta.get_field(name).column for name in (*TASK_PAYLOAD_FIELDS, "owner_id")]
    embed_columns = [Embed._meta.get_field(name).column for name in _POLL_EMBED_FIELDS]
    selected = [f"t.{quote(c)}" for c in task_columns] + [
        f"e.{quote(c)} AS {quote('embed__' + c)}" for c in embed_columns
    ]
    return (
        f"SELECT {', '.join(selected)} FROM {quote(Task._meta.db_table)} t "  # noqa: S608  (model names; values are parameters)
        f"INNER JOIN {quote(Embed._meta.db_table)} e ON e.{quote(Embed._meta.pk.column)} = "
        f"t.{quote(Task._meta.get_field('embed').column)} "
        f"WHERE t.{quote(Task._meta.pk.column)} = %s AND t.{quote(Task._meta.get_field('owner').column)} = %s"
    )


def poll_task(user, task_id: object) -> Task:
    """``access_task`` for a poll: the same owner check in one query, with only the columns the
    answer needs. Model fields go through the database's converters (RawQuerySet applies them);
    the embed's columns need none (text, an integer and bytes)."""
    params = [Task._meta.pk.get_db_prep_value(parse_uuid(task_id), connection), user.pk]
    task = next(iter(Task.objects.raw(_poll_sql(connection.vendor), params)), None)
    if task is None:
        raise ApiError("not_found", "Not found.", status_code=404)
    loaded = {"id": task.embed_id} | {
        name: getattr(task, "embed__" + Embed._meta.get_field(name).column) for name in _POLL_EMBED_FIELDS
    }
    names = [f.attname for f in Embed._meta.concrete_fields if f.attname in loaded]  # from_db's order
    embed = Embed.from_db(connection.alias, names, [loaded[name] for name in names])
    Task.embed.field.set_cached_value(task, embed)
    return task
