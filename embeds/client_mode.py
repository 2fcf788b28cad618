"""Client-mode ("zero-knowledge") embeds: files the browser encrypted with a key the server never has.

The browser strips the image's metadata, makes the three renditions, encrypts each under a fresh
AES-256-GCM embed key (fresh IV per object, additional data naming the variant) and wraps that
key with the user's master key (``accounts.MasterKey``), which only the browser can open. The
server stores the ciphertext as any other file (inside its own per-embed envelope too, so every
stored object is an ``OMI1`` envelope) and the wrapped key in ``EmbedKey``. It keeps no name,
type or dimensions: the sealed content of a client embed is only ``ImageContent(source="upload")``, and the
browser's own description of the files travels encrypted beside the wrapped key.

What the server cannot do with such an embed, it refuses (``embeds.access``): crops, edits,
analysis and reverse search need pixels, so the web app first asks for consent and uploads a
vault-mode copy ``derived_from`` the private one.
"""

from __future__ import annotations

import logging
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.api import decode_b64url
from core.errors import ApiError

from . import sealing
from .conf import conf
from .content import ImageContent
from .limits import reserve_upload
from .models import Embed, EmbedKey
from .storage import StorageUnavailable

logger = logging.getLogger(__name__)

# What the browser writes (static/js/private-crypto.js): "OMC1" || IV (12) || ciphertext || tag.
ENVELOPE_PREFIX = b"OMC1"
MIN_ENVELOPE = len(ENVELOPE_PREFIX) + 12 + 16
WRAPPED_KEY_BYTES = 12 + 32 + 16
MAX_META_BYTES = 8 * 1024
MAX_KEYS_PER_LOOKUP = 100
# The header a REST client reads to know the body is the browser's ciphertext, not an image.
MODE_HEADER = "X-Encryption-Mode"
SEALED_CONTENT = ImageContent(source="upload")


def check_envelope(data: bytes, field: str) -> None:
    """Refuse anything that is not a browser-made envelope: in particular a plain image, so a
    client-mode embed can never hold pixels the server could read."""
    if len(data) < MIN_ENVELOPE or not data.startswith(ENVELOPE_PREFIX):
        raise ApiError(
            "invalid_value",
            "Must be an OMC1 AES-256-GCM envelope made by the browser "
            "(a private upload is encrypted before it is sent).",
            field=field,
        )


def check_wrapped_key(wrapped_key: object) -> str:
    decode_b64url(wrapped_key, "wrapped_key", min_bytes=WRAPPED_KEY_BYTES, max_bytes=WRAPPED_KEY_BYTES)
    return str(wrapped_key)


def check_meta(encrypted_meta: object) -> str:
    raw = decode_b64url(encrypted_meta, "encrypted_meta", min_bytes=MIN_ENVELOPE, max_bytes=MAX_META_BYTES)
    check_envelope(raw, "encrypted_meta")
    return str(encrypted_meta)


def check_sizes(files: dict[str, bytes]) -> None:
    """The upload limit applies to the ciphertext, all three renditions together (the body cap)."""
    limit = conf().UPLOAD_MAX_BYTES
    if sum(len(data) for data in files.values()) > limit:
        raise ApiError(
            "file_too_large",
            f"The encrypted files are larger than {limit // (1024 * 1024)} MiB together.",
            field="original",
            status_code=413,
        )


def do_create_client_embed(
    owner: AbstractBaseUser, files: dict[str, bytes], *, wrapped_key: str, encrypted_meta: str
) -> Embed:
    """A finished client-mode image from the browser's ciphertext; its key row in the same
    transaction. Objects are written before the commit and removed again if it fails."""
    missing = [variant for variant in sealing.FILE_VARIANTS if variant not in files]
    if missing:
        raise ApiError("missing_field", f"Send the encrypted {missing[0]} as a file part.", field=missing[0])
    for variant in sealing.FILE_VARIANTS:
        check_envelope(files[variant], variant)
    check_sizes(files)
    wrapped_key, encrypted_meta = check_wrapped_key(wrapped_key), check_meta(encrypted_meta)
    reserve_upload(owner)  # the same per-minute limit as any upload
    opened = sealing.new_embed(
        owner, content=SEALED_CONTENT, status=Embed.Status.FINISHED, version_kind=Embed.VersionKind.UPLOADED
    )
    opened.embed.encryption_mode = Embed.EncryptionMode.CLIENT
    try:
        opened.store_blobs({variant: files[variant] for variant in sealing.FILE_VARIANTS})
        with transaction.atomic():
            opened.embed.save()
            EmbedKey.objects.create(
                embed=opened.embed, owner=owner, wrapped_key=wrapped_key, encrypted_meta=encrypted_meta
            )
    except BaseException:
        try:
            sealing.delete_files(opened.embed, sealing.FILE_VARIANTS)
        except StorageUnavailable:
            logger.warning("embeds.client_embed.cleanup_failed embed=%s", opened.embed.id)
        raise
    logger.info("embeds.client_embed.created embed=%s", opened.embed.id)
    return opened.embed


def parse_embed_ids(values: list[str]) -> list[uuid.UUID]:
    if not values:
        raise ApiError("missing_field", "Name at least one embed (embed_id).", field="embed_id")
    ids = [part for value in values for part in value.split(",") if part]
    if len(ids) > MAX_KEYS_PER_LOOKUP:
        raise ApiError("invalid_value", f"At most {MAX_KEYS_PER_LOOKUP} ids at once.", field="embed_id")
    try:
        return [uuid.UUID(value) for value in ids]
    except ValueError:
        raise ApiError("invalid_value", "Must be valid embed ids.", field="embed_id") from None


def get_embed_keys(user: AbstractBaseUser, embed_ids: list[uuid.UUID]) -> list[EmbedKey]:
    """The user's own keys among these embeds: another user's embed, a vault embed and a missing
    one all simply have none (one query, the same answer)."""
    return list(EmbedKey.objects.filter(owner=user, embed_id__in=embed_ids).order_by("created_at"))


def embed_key_payload(key: EmbedKey) -> dict:
    return {
        "embed_id": str(key.embed_id),
        "wrapped_key": key.wrapped_key,
        "wrapped_with": "master_key",
        "algorithm": "AES-256-GCM",
        "encrypted_meta": key.encrypted_meta,
        "created_at": key.created_at.isoformat().replace("+00:00", "Z"),
    }


def file_headers(embed: Embed) -> dict[str, str] | None:
    """A client-mode file is served as what it is, opaque bytes, saying so; None for vault mode
    (the bytes then say what image they are)."""
    if embed.encryption_mode != Embed.EncryptionMode.CLIENT:
        return None
    return {"Content-Type": "application/octet-stream", MODE_HEADER: "client"}
