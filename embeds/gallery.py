"""Reads of the gallery: all of a user's images across chats, newest first, a page at a time.

Pagination is a keyset over ``(created_at, id)``, both descending: the cursor is the position of
the last row a page examined, so an image made while someone scrolls appears before the first
page and never shifts a later one (no duplicates, no gaps, unlike OFFSET). The cursor is opaque
to clients (base64url of that position); a forged one can only point into the caller's own rows.

What can be filtered in SQL is: the kind (``version_kind``, plaintext and coarse on purpose),
the chat (a subquery the caller passes, see ``chats.access.gallery``) and the status. The model
is inside the sealed content and stays there (no plaintext model column): with ``model`` the
page decrypts the contents of the rows it examines, a batch at a time (one query and one batched
keyring unwrap per batch), and keeps the matches until the page is full or ``MODEL_SCAN_MAX``
rows were examined; then it returns what it found with a cursor to go on from. So a filter on a
rare model costs up to ``MODEL_SCAN_MAX`` content decryptions (AES-GCM over a few hundred bytes,
microseconds each) and ``MODEL_SCAN_MAX / batch`` queries and keyring calls per page, and a page
may hold fewer than ``limit`` items while ``next_cursor`` is not null. Private (client-mode)
images have no model the server can read, so a model filter never matches them.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet, Sum

from core.errors import ApiError

from . import sealing
from .content import ImageContent
from .models import Embed

VK = Embed.VersionKind
# The gallery's three kinds, each a group of lineage steps: a regeneration is generated again,
# crops and drawings are edits by hand.
KINDS: dict[str, tuple[str, ...]] = {
    "generated": (VK.GENERATED, VK.REGENERATED),
    "edited": (VK.EDITED, VK.CROPPED, VK.DRAWN),
    "uploaded": (VK.UPLOADED,),
}
KIND_OF = {step: kind for kind, steps in KINDS.items() for step in steps}
PAGE_DEFAULT = 50
PAGE_MAX = 100
MODEL_SCAN_MAX = 500  # rows a page with a model filter examines at most
# An image that failed or was cancelled has no pixels: the gallery shows the rest.
LISTED_STATUSES = (Embed.Status.FINISHED, Embed.Status.PROCESSING)
# What a page reads of each row: no timestamps but its own, no lineage links.
PAGE_COLUMNS = (
    "id",
    "owner_id",
    "type",
    "status",
    "encryption_mode",
    "version_kind",
    "stored_bytes",
    "created_at",
    "wrapped_key",
    "encrypted_content",
)


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last row it examined."""

    created_at: datetime
    embed_id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.embed_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            when, embed_id = raw.split("|")
            position = cls(datetime.fromisoformat(when), uuid.UUID(embed_id))
            if position.created_at.tzinfo is None:  # ours always name UTC
                raise ValueError(when)
        except (ValueError, binascii.Error) as exc:  # UnicodeDecodeError is a ValueError
            raise ApiError(
                "invalid_value",
                "Not a cursor this API gave out: pass next_cursor as it came.",
                field="cursor",
            ) from exc
        return position


@dataclass(frozen=True)
class GalleryItem:
    embed: Embed
    content: ImageContent | None  # None: a private image, which only the browser can read

    def payload(self) -> dict:
        embed, content = self.embed, self.content
        preview = (content.files or {}).get("preview") if content else None
        return {
            "embed_id": str(embed.id),
            "type": embed.type,
            "kind": KIND_OF.get(embed.version_kind, "uploaded"),
            "version_kind": embed.version_kind,
            "status": embed.status,
            "created_at": embed.created_at.isoformat().replace("+00:00", "Z"),
            "encryption_mode": embed.encryption_mode,
            "stored_bytes": embed.stored_bytes,
            "preview_url": f"/v1/embeds/{embed.id}/file?format=preview",
            # The grid's caption and alt text; a private image's are in its encrypted meta.
            "model": content.model if content else None,
            "model_label": (content.model_label or content.model) if content else None,
            "prompt": content.prompt if content else None,
            "file_name": content.file_name if content else None,
            "width": preview.width if preview else None,
            "height": preview.height if preview else None,
        }


@dataclass(frozen=True)
class GalleryPage:
    items: list[GalleryItem]
    next_cursor: str | None
    total_bytes: int
    total_images: int

    def payload(self) -> dict:
        return {
            "items": [item.payload() for item in self.items],
            "next_cursor": self.next_cursor,
            "total_bytes": self.total_bytes,
            "total_images": self.total_images,
        }


def user_images(user: AbstractBaseUser) -> QuerySet[Embed]:
    return Embed.objects.filter(owner=user, type=Embed.Type.IMAGE)


def storage_used(user: AbstractBaseUser) -> tuple[int, int]:
    """Bytes stored (ciphertext, all three renditions) and the count of all the user's images,
    whatever the filters: one aggregate query."""
    totals = user_images(user).aggregate(total=Sum("stored_bytes"), count=Count("id"))
    return totals["total"] or 0, totals["count"]


def _open_contents(embeds: list[Embed]) -> list[ImageContent | None]:
    """Each row's content (None for a private image), with one batched unwrap for the batch."""
    vault = [e for e in embeds if e.encryption_mode != Embed.EncryptionMode.CLIENT]
    opened = {o.embed.id: o.image() for o in sealing.open_embeds(vault)}
    return [opened.get(e.id) for e in embeds]


def gallery_page(
    user: AbstractBaseUser,
    *,
    kind: str | None = None,
    model: str | None = None,
    within: QuerySet | None = None,
    cursor: str | None = None,
    limit: int = PAGE_DEFAULT,
) -> GalleryPage:
    """One page of the user's images, newest first. ``within``: a values("embed_id") queryset
    the images must be in (a chat's, already authorized by the caller). Two queries without a
    model filter (the totals and the page), plus one per examined batch with one."""
    rows = user_images(user).filter(status__in=LISTED_STATUSES).only(*PAGE_COLUMNS)
    if kind:
        rows = rows.filter(version_kind__in=KINDS[kind])
    if within is not None:
        rows = rows.filter(pk__in=within)
    if model:
        rows = rows.exclude(encryption_mode=Embed.EncryptionMode.CLIENT)
    rows = rows.order_by("-created_at", "-id")
    position = Position.decode(cursor) if cursor else None
    total_bytes, total_images = storage_used(user)
    if not model:
        batch = list(_after(rows, position)[: limit + 1])
        page = batch[:limit]
        items = [GalleryItem(e, c) for e, c in zip(page, _open_contents(page), strict=True)]
        more = len(batch) > limit
        next_cursor = Position(page[-1].created_at, page[-1].id).encode() if more else None
        return GalleryPage(items, next_cursor, total_bytes, total_images)
    items: list[GalleryItem] = []
    scanned, more = 0, True
    while more and len(items) < limit and scanned < MODEL_SCAN_MAX:
        step = min(2 * limit, MODEL_SCAN_MAX - scanned)
        batch = list(_after(rows, position)[:step])
        more = len(batch) == step  # a short batch: nothing older is left
        for index, (embed, content) in enumerate(zip(batch, _open_contents(batch), strict=True)):
            scanned += 1
            position = Position(embed.created_at, embed.id)
            if content is not None and content.model == model:
                items.append(GalleryItem(embed, content))
                if len(items) == limit:
                    more = more or index < len(batch) - 1
                    break
    next_cursor = position.encode() if more and position else None
    return GalleryPage(items, next_cursor, total_bytes, total_images)


def _after(rows: QuerySet[Embed], position: Position | None) -> QuerySet[Embed]:
    if position is None:
        return rows
    return rows.filter(
        Q(created_at__lt=position.created_at) | Q(created_at=position.created_at, id__lt=position.embed_id)
    )
