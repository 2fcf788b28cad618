"""Actions on embeds that run within the request: upload, crop, delete.

Uploads and crops are processed synchronously (a few hundred ms of CPU for ~1 MP): the caller
gets a finished embed or a clear error, never a placeholder that might fail later. Files are
stored before the row is committed; if the commit fails, the objects are removed again.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import ApiError

from . import imaging, sealing
from .conf import conf
from .limits import reserve_upload
from .models import Embed
from .signals import extra_variants_of
from .storage import StorageUnavailable

logger = logging.getLogger(__name__)

AI_SOURCES = {"generated", "edit"}


def _store_new_image(
    owner: AbstractBaseUser, renditions: dict, content: dict, derived_from: Embed | None = None
) -> Embed:
    opened = sealing.new_embed(
        owner, content=content, status=Embed.Status.FINISHED, derived_from=derived_from
    )
    try:
        content["files"] = opened.store_renditions(renditions)
        opened.seal_content(content)
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


def is_ai_made(content: dict) -> bool:
    """Whether an image embed shows AI-made pixels: generated, AI-edited, or derived (cropped,
    drawn on) from such an image, which then carries the label it inherited."""
    return content.get("source") in AI_SOURCES or bool(content.get("ai_label"))


def inherited_label(source_content: dict, *, composite: bool = False) -> dict | None:
    """The AI label an image derived from ``source_content`` must keep (None if it is not AI-made):
    the exact label the source was given, marked composite when people's marks were added."""
    if not is_ai_made(source_content):
        return None
    label = source_content.get("ai_label") or {
        "model_name": source_content.get("model"),
        "model_version": (source_content.get("provider") or {}).get("model_version"),
        "prompt": source_content.get("prompt"),
        "composite": bool(source_content.get("composite")),
    }
    return {**label, "composite": True} if composite else label


def do_create_upload_embed(
    owner: AbstractBaseUser, data: bytes, *, file_name: str, derived_from: Embed | None = None
) -> Embed:
    """An uploaded image becomes a finished embed: metadata stripped, three formats, encrypted.

    ``derived_from`` names the user's image this one was drawn on (the web UI's "Ask about this"):
    a drawing over an AI image stays labelled as AI-made, as a composite, with ``c2pa.edited``."""
    reserve_upload(owner)
    wait = conf().IMAGE_QUEUE_SECONDS  # a request waits this long for image memory, then 503
    source_content = sealing.open_embed(derived_from).content() if derived_from else {}
    label = inherited_label(source_content, composite=True)
    try:
        if label:
            clean = imaging.clean_image_bytes(data, wait_seconds=wait)  # nothing but its pixels
            renditions = imaging.render_generated(
                clean, imaging.AiLabel(**label, actions=("c2pa.edited",)), wait_seconds=wait
            )
        else:
            renditions = imaging.render_upload(data, wait_seconds=wait)
    except imaging.InvalidImage as exc:
        raise _decode_error(exc) from exc
    content = {
        "type": "image",
        "source": "upload",
        "file_name": file_name,
        "uploaded_at": timezone.now().isoformat(),
        "files": None,
    }
    if derived_from:
        content.update(derived_from=str(derived_from.id), ai_label=label)
        if label:
            content.update(prompt=source_content.get("prompt"), model=source_content.get("model"))
    embed = _store_new_image(owner, renditions, content, derived_from=derived_from)
    logger.info("embeds.upload.created embed=%s", embed.id)
    return embed


def do_crop_embed(owner: AbstractBaseUser, source: Embed, box: tuple[int, int, int, int]) -> Embed:
    """A new embed from a rectangle of the source's original; the source is untouched.

    A crop of an AI image stays labelled as AI-made, with the same model and prompt."""
    reserve_upload(owner)
    opened_source = sealing.open_embed(source)
    source_content = opened_source.content()
    try:
        wait = conf().IMAGE_QUEUE_SECONDS
        cropped = imaging.crop_to_png(opened_source.load_file("original"), box, wait_seconds=wait)
        label = inherited_label(source_content)
        if label:
            renditions = imaging.render_generated(
                cropped, imaging.AiLabel(**label, actions=("c2pa.cropped",)), wait_seconds=wait
            )
        else:
            renditions = imaging.render_upload(cropped, wait_seconds=wait)
    except imaging.InvalidImage as exc:
        raise _decode_error(exc, field="rect") from exc
    left, top, width, height = box
    content = {
        "type": "image",
        "source": "crop",
        "file_name": source_content.get("file_name"),
        "prompt": source_content.get("prompt"),
        "model": source_content.get("model"),
        "aspect_ratio": None,
        "ai_label": label,
        "crop": {"x": left, "y": top, "width": width, "height": height},
        "derived_from": str(source.id),
        "generated_at": timezone.now().isoformat(),
        "files": None,
    }
    embed = _store_new_image(owner, renditions, content, derived_from=source)
    logger.info("embeds.crop.created embed=%s source=%s", embed.id, source.id)
    return embed


def do_delete_embed(embed: Embed) -> None:
    """Remove the embed's objects from storage, then the row (and with it the wrapped key and its
    tasks).

    A task still working on the embed is first flagged cancelled (committed before any object is
    deleted), so its worker can no longer finish it: it stops at the provider, and deletes what it
    stored after this point itself, whether it sees the flag or finds its row already gone.
    If storage is down this raises StorageUnavailable before the row goes, so nothing is left
    pointing nowhere and the delete can simply be tried again."""
    embed_id = embed.id
    extra = extra_variants_of(embed)  # its share links end, its running tasks are cancelled
    sealing.delete_files(embed, (*sealing.FILE_VARIANTS, "staging", "mask", *extra))
    embed.delete()
    logger.info("embeds.embed.deleted embed=%s", embed_id)
