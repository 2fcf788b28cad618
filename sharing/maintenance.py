"""What the orphan sweeper (embeds.maintenance) must leave alone: every live share's object."""

from __future__ import annotations

from embeds import storage
from embeds.models import Embed

from .actions import VARIANT, delete_shares
from .models import Share


def share_object_names() -> set[str]:
    return {
        storage.object_name(owner_id, share_id, VARIANT)
        for share_id, owner_id in Share.objects.values_list("id", "owner_id").iterator()
    }


def end_shares_of(sender: type, embed: Embed, **_: object) -> tuple[str, ...]:
    """An embed being deleted ends its share links (their ciphertext lives under the share)."""
    delete_shares(embed.shares.all())
    return ()


def kept_share_objects(sender: object, **_: object) -> set[str]:
    """The orphan sweep spares every live share's ciphertext."""
    return share_object_names()
