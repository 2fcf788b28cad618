"""Actions on embeds that run within the request: upload, crop, delete.

Uploads and crops are processed synchronously (a few hundred ms of CPU for ~1 MP): the caller
gets a finished embed or a clear error, never a placeholder that might fail later. Files are
stored before the row is committed; if the commit fails, the objects are removed again.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import ApiError

from . import imaging, sealing
from .conf import conf
from .content import CropBox, ImageContent
from .limits import reserve_upload
from .lineage import lineage_of
from .models import Embed
from .signals import extra_variants_of
from .storage import StorageUnavailable

logger = logging.getLogger(__name__)


def _store_new_image(
    owner: AbstractBaseUser,
    renditions: dict,
    content: ImageContent,
    *,
    version_kind: str,
    derived_from: Embed | None = None,
    parent: Embed | None = None,
) -> Embed:
    opened = sealing.new_embed(
        owner,
        content=content,
        status=Embed.Status.FINISHED,
        derived_from=derived_from,
        version_kind=version_kind,
        parent=parent,
    )
    try:
        opened.seal_content(replace(content, files=opened.store_renditions(renditions)))
        with transaction.atomic():
            opened.embed.save()
    except BaseException:
        # Some objects may be written (the puts run in parallel): none may outlive the failure.
        try:
            sealing.delete_files(opened.embed, sealing.FILE_VARIANTS)
        except StorageUnavailable:
            logger.warning("embeds.image.cleanup_failed embed=%s", opened.embed.id)
        raise
    return opened.embed


def _decode_error(exc: imaging.InvalidImage, field: str = "file") -> ApiError:
    return ApiError(exc.code, exc.message, field=field)


def do_create_upload_embed(
    owner: AbstractBaseUser, data: bytes, *, file_name: str, derived_from: Embed | None = None
) -> Embed:
    """An uploaded image becomes a finished embed: metadata stripped, three formats, encrypted.

    ``derived_from`` names the user's image this one was drawn on (the web UI's "Ask about this"):
    a drawing over an AI image stays labelled as AI-made, as a composite, with ``c2pa.edited``."""
    reserve_upload(owner)
    wait = conf().IMAGE_QUEUE_SECONDS  # a request waits this long for image memory, then 503
    source_content = sealing.open_embed(derived_from).image() if derived_from else None
    label = source_content.inherited_label(composite=True) if source_content else None
    try:
        if label:
            clean = imaging.clean_image_bytes(data, wait_seconds=wait)  # nothing but its pixels
            renditions = imaging.render_generated(
                clean, label.for_image(actions=("c2pa.edited",)), wait_seconds=wait
            )
        else:
            renditions = imaging.render_upload(data, wait_seconds=wait)
    except imaging.InvalidImage as exc:
        raise _decode_error(exc) from exc
    content = ImageContent(source="upload", file_name=file_name, uploaded_at=timezone.now().isoformat())
    if derived_from:
        content = replace(content, derived_from=str(derived_from.id), ai_label=label)
        if label:
            content = replace(content, prompt=source_content.prompt, model=source_content.model)
    # A drawing over one of the user's images is a version of it; the vault copy of a private
    # image (made with the user's consent, for the assistant) is an upload of its own.
    drawn = derived_from is not None and derived_from.encryption_mode != Embed.EncryptionMode.CLIENT
    kind = Embed.VersionKind.DRAWN if drawn else Embed.VersionKind.UPLOADED
    embed = _store_new_image(
        owner,
        renditions,
        content,
        version_kind=kind,
        derived_from=derived_from,
        parent=derived_from if drawn else None,
    )
    logger.info("embeds.upload.created embed=%s", embed.id)
    return embed


def do_crop_embed(owner: AbstractBaseUser, source: Embed, box: tuple[int, int, int, int]) -> Embed:
    """A new embed from a rectangle of the source's original; the source is untouched.

    A crop of an AI image stays labelled as AI-made, with the same model and prompt."""
    reserve_upload(owner)
    opened_source = sealing.open_embed(source)
    source_content = opened_source.image()
    try:
        wait = conf().IMAGE_QUEUE_SECONDS
        cropped = imaging.crop_to_png(opened_source.load_file("original"), box, wait_seconds=wait)
        label = source_content.inherited_label()
        if label:
            renditions = imaging.render_generated(
                cropped, label.for_image(actions=("c2pa.cropped",)), wait_seconds=wait
            )
        else:
            renditions = imaging.render_upload(cropped, wait_seconds=wait)
    except imaging.InvalidImage as exc:
        raise _decode_error(exc, field="rect") from exc
    left, top, width, height = box
    content = ImageContent(
        source="crop",
        file_name=source_content.file_name,
        prompt=source_content.prompt,
        model=source_content.model,
        ai_label=label,
        crop=CropBox(x=left, y=top, width=width, height=height),
        derived_from=str(source.id),
        generated_at=timezone.now().isoformat(),
    )
    embed = _store_new_image(
        owner, renditions, content, version_kind=Embed.VersionKind.CROPPED, derived_from=source, parent=source
    )
    logger.info("embeds.crop.created embed=%s source=%s", embed.id, source.id)
    return embed


def _let_go_of_lineage(embed: Embed) -> None:
    """Keep the rest of ``embed``'s lineage whole without it (in the caller's transaction): its
    children now come from its parent (a root's children from nothing), and when the root goes,
    the oldest remaining version becomes the root of the rest. A version's parent is always older
    than it, so that oldest one has no parent left and is a root like any other."""
    if embed.root_id is None:
        return
    Embed.objects.filter(parent_id=embed.id).update(parent_id=embed.parent_id)
    if embed.root_id == embed.id:
        rest = Embed.objects.filter(root_id=embed.id).exclude(pk=embed.id)
        heir = rest.order_by("created_at", "id").values_list("id", flat=True).first()
        if heir is not None:
            rest.update(root_id=heir)


def _delete_objects(embed: Embed) -> None:
    """End what refers to the embed (its share links, its running tasks), then remove its objects."""
    extra = extra_variants_of(embed)  # its share links end, its running tasks are cancelled
    sealing.delete_files(embed, (*sealing.FILE_VARIANTS, "staging", "mask", *extra))


def do_delete_embed(embed: Embed) -> None:
    """Remove the embed's objects from storage, then the row (and with it the wrapped key and its
    tasks); the other versions of its lineage stay (``_let_go_of_lineage``).

    A task still working on the embed is first flagged cancelled (committed before any object is
    deleted), so its worker can no longer finish it: it stops at the provider, and deletes what it
    stored after this point itself, whether it sees the flag or finds its row already gone.
    If storage is down this raises StorageUnavailable before the row goes, so nothing is left
    pointing nowhere and the delete can simply be tried again."""
    embed_id = embed.id
    _delete_objects(embed)
    with transaction.atomic():
        _let_go_of_lineage(embed)
        embed.delete()
    logger.info("embeds.embed.deleted embed=%s", embed_id)


def do_delete_embeds(embeds: list[Embed]) -> None:
    """Delete several embeds (the gallery's selection), each exactly as ``do_delete_embed`` does.

    Ownership is all-or-nothing (the caller fetched them with ``access_images``); storage is
    not: if it fails part-way, the images before the failure are gone and the rest are intact,
    each whole (never a row without its files), and the error says to try again."""
    for embed in embeds:
        do_delete_embed(embed)


def do_delete_lineage(embed: Embed) -> list:
    """Delete every version of ``embed``'s lineage (the viewer's "delete all versions" of a root).

    As ``do_delete_embed``, for all of them: every version's objects go first, then all the rows
    in one transaction. If storage is down this raises StorageUnavailable before any row goes, so
    the delete can simply be tried again. An embed outside any lineage is deleted alone.
    Returns the ids deleted."""
    versions = list(lineage_of(embed)) if embed.root_id is not None else [embed]
    for version in versions:
        _delete_objects(version)
    ids = [version.id for version in versions]
    with transaction.atomic():
        Embed.objects.filter(pk__in=ids, owner_id=embed.owner_id).delete()
    logger.info("embeds.lineage.deleted root=%s versions=%d", embed.root_id or embed.id, len(ids))
    return ids
