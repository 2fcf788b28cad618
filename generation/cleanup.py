"""What generation lets go of when an embed is deleted, and which objects it keeps (see
``embeds.signals``): connected in ``GenerationConfig.ready``."""

from __future__ import annotations

from embeds import storage
from embeds.models import Embed

from .lifecycle import cancel_for_embed
from .models import Task
from .shared_links import shared_variant


def release_embed(sender: type, embed: Embed, **_: object) -> tuple[str, ...]:
    """A task still working on the embed is flagged cancelled (committed before any object goes),
    so its worker stops and cleans up after itself; the copies published for providers go too."""
    cancel_for_embed(embed.id)
    return tuple(shared_variant(task_id) for task_id in embed.tasks.values_list("id", flat=True))


def kept_object_names(sender: object, **_: object) -> set[str]:
    """The published copy a provider may be fetching, for every task of every embed."""
    rows = Task.objects.filter(embed__isnull=False).values_list("embed_id", "embed__owner_id", "id")
    return {
        storage.object_name(owner_id, embed_id, shared_variant(task_id))
        for embed_id, owner_id, task_id in rows.iterator()
    }
