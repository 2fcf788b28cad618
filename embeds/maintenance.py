"""Sweeping the object store: delete objects that no embed accounts for.

Every object name is derived from an embed id and a variant (``embeds.storage``), so the names
that should exist can be computed from the database alone. Anything else in the bucket was left
by a process that died between writing objects and committing their row (an upload, a crop);
the pipeline's own working objects are swept by the stale-task reaper. Objects younger than the
grace period are left alone: they may belong to a request still in flight.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from . import sealing, storage
from .models import Embed
from .signals import object_names_kept_elsewhere

logger = logging.getLogger(__name__)

WORKING_VARIANTS = ("staging", "mask")


def expected_object_names() -> set[str]:
    names: set[str] = set()
    for embed_id, owner_id in Embed.objects.values_list("id", "owner_id").iterator():
        variants = (*sealing.FILE_VARIANTS, *WORKING_VARIANTS)
        names.update(storage.object_name(owner_id, embed_id, variant) for variant in variants)
    names.update(object_names_kept_elsewhere())  # the pipeline's published copies, share links
    return names


def sweep_orphaned_objects(*, older_than: timedelta = timedelta(hours=1), dry_run: bool = False) -> list[str]:
    """Delete (or, with ``dry_run``, only list) objects no embed accounts for."""
    expected = expected_object_names()
    cutoff = timezone.now() - older_than
    orphans = [
        name
        for name in storage.list_objects()
        if name not in expected and storage.modified_time(name) <= cutoff
    ]
    if not dry_run:
        for name in orphans:
            storage.delete_object(name)
    logger.info("embeds.sweep.done orphans=%s dry_run=%s", len(orphans), dry_run)
    return orphans
