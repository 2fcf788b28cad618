"""What the orphan sweeper (embeds.maintenance) must leave alone: every live share's object."""

from __future__ import annotations

from embeds import storage

from .actions import VARIANT
from .models import Share


def share_object_names() -> set[str]:
    return {
        storage.object_name(owner_id, share_id, VARIANT)
        for share_id, owner_id in Share.objects.values_list("id", "owner_id").iterator()
    }
