"""The seam through which apps above ``embeds`` clean up what refers to an embed.

``embeds`` sits below ``generation`` and ``sharing`` and cannot import them, yet deleting an
embed must end its share links and remove the objects the pipeline stored beside it, and the
orphan sweep must spare those objects. The upper apps connect receivers in ``ready()`` (with a
``dispatch_uid``). Like ``on_delete``, these do clean-up only, never a business decision.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with ``embed`` before its objects and row are deleted. A receiver ends what refers to the
# embed and returns the names of any extra variants it stored under the embed (or ()).
embed_deleting = Signal()

# Sent by the orphan sweep. A receiver returns the set of object names it keeps in storage.
collect_object_names = Signal()


def extra_variants_of(embed: object) -> tuple[str, ...]:
    """Ask every receiver of ``embed_deleting`` to let go of the embed; the variants they name."""
    return tuple(name for _, names in embed_deleting.send(sender=type(embed), embed=embed) for name in names)


def object_names_kept_elsewhere() -> set[str]:
    """Every object name the upper apps account for."""
    kept: set[str] = set()
    for _, names in collect_object_names.send(sender=None):
        kept.update(names)
    return kept
