"""Fetch-and-authorize in one step: another user's id answers exactly like a missing one."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from core.errors import ApiError

from .models import Embed


def parse_uuid(value: object, *, field: str | None = None, not_found: bool = True) -> uuid.UUID:
    """A UUID from user input; a malformed id answers 404 (path) or 400 (body field)."""
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError) as exc:
        if not_found:
            raise ApiError("not_found", "Not found.", status_code=404) from exc
        raise ApiError("invalid_value", "Must be a valid id.", field=field) from exc


def access_embed(
    user: AbstractBaseUser, embed_id: object, *, field: str | None = None, only: tuple[str, ...] | None = None
) -> Embed:
    """The user's embed, or 404 (also for malformed ids and other users' embeds); ``only``: the
    columns to load (a download needs neither the sealed content nor the timestamps)."""
    embeds = Embed.objects.only(*only) if only is not None else Embed.objects
    try:  # get(), not first(): a lookup by primary key needs no ORDER BY
        return embeds.get(pk=parse_uuid(embed_id, field=field), owner=user)
    except Embed.DoesNotExist:
        raise ApiError("not_found", "Not found.", field=field, status_code=404) from None


def access_finished_image(
    user: AbstractBaseUser,
    embed_id: object,
    *,
    field: str | None = None,
    only: tuple[str, ...] | None = None,
    readable: bool = True,
) -> Embed:
    """The user's finished image embed: 404 if not theirs, 409 if not ready, 400 if not an image.

    ``readable`` (the default): the caller needs the pixels, so a client-mode image, which the
    server cannot decrypt, is refused with 400 ``client_encrypted``. Only what passes ciphertext
    along (the file download, a share, the source of a consented copy) sets it False."""
    embed = access_embed(user, embed_id, field=field, only=only)
    if embed.type != Embed.Type.IMAGE:
        raise ApiError("invalid_value", "This embed is not an image.", field=field)
    if embed.status != Embed.Status.FINISHED:
        raise ApiError(
            "embed_not_ready",
            "The image is still being processed."
            if embed.status == Embed.Status.PROCESSING
            else "The image was not made: it failed or was cancelled.",
            field=field,
            status_code=409,
        )
    if readable and embed.encryption_mode == Embed.EncryptionMode.CLIENT:
        raise ApiError(
            "client_encrypted",
            "This image is private (encrypted in your browser): the server cannot read it. "
            "Allow the assistant to see it (the web app asks), which makes a copy it can read, "
            "and use that copy.",
            field=field,
        )
    return embed


def access_images(
    user: AbstractBaseUser, embed_ids: Iterable[object], *, field: str = "embed_ids"
) -> list[Embed]:
    """The user's images with these ids, in the order asked (repeats once), or 404 if any one is
    not theirs, not an image, missing or malformed: a bulk operation is all-or-nothing, and
    someone else's id answers exactly like a missing one. One query."""
    wanted = list(dict.fromkeys(parse_uuid(embed_id, field=field) for embed_id in embed_ids))
    found = {e.id: e for e in Embed.objects.filter(pk__in=wanted, owner=user, type=Embed.Type.IMAGE)}
    if len(found) != len(wanted):
        raise ApiError("not_found", "One of the images does not exist.", field=field, status_code=404)
    return [found[embed_id] for embed_id in wanted]
