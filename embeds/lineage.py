"""Reads of an image's lineage: the versions that share its root (``Embed.root``), oldest first.

Everything here reads plaintext columns only (ids, kind, status, times): listing the versions of
an image opens no sealed content and unwraps no key, however long its lineage. The writes that
keep a lineage whole when versions are deleted live in ``embeds.actions``."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from core.errors import ApiError

from .access import access_embed
from .models import Embed

# What a version row needs: the version shape's fields and nothing sealed.
VERSION_COLUMNS = (
    "id",
    "owner_id",
    "type",
    "parent_id",
    "root_id",
    "version_kind",
    "status",
    "encryption_mode",
    "created_at",
)


def lineage_of(embed: Embed) -> QuerySet[Embed]:
    """Every version of ``embed``'s lineage (itself included), oldest first. The owner is in the
    filter though a lineage never crosses owners: a read that isolates users says so itself."""
    return (
        Embed.objects.filter(root_id=embed.root_id, owner_id=embed.owner_id)
        .only(*VERSION_COLUMNS)
        .order_by("created_at", "id")
    )


def get_versions(user: AbstractBaseUser, embed_id: object) -> list[Embed]:
    """The lineage of the user's image ``embed_id``: two queries (the owner check, the lineage).
    Another user's id answers 404 like a missing one; an embed that is not an image (search
    results, an analysis) has no versions and answers 400."""
    embed = access_embed(user, embed_id, only=("id", "owner_id", "type", "root_id"))
    if embed.root_id is None:
        raise ApiError("invalid_value", "Only images have versions.")
    return list(lineage_of(embed))


def version_count(embed: Embed) -> int:
    """How many versions ``embed``'s lineage has (1 for an image alone, 0 outside any lineage)."""
    if embed.root_id is None:
        return 0
    return Embed.objects.filter(root_id=embed.root_id, owner_id=embed.owner_id).count()


def with_version_counts(embeds: QuerySet[Embed]) -> QuerySet[Embed]:
    """``embeds`` annotated with ``version_count`` in the same query (one subquery per row on the
    lineage index), for lists that show the count of every image without a query each."""
    counts = (
        Embed.objects.filter(root_id=OuterRef("root_id"))
        .order_by()
        .values("root_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return embeds.annotate(version_count=Coalesce(Subquery(counts), 0))
