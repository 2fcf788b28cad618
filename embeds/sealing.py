"""Sealing embeds: one data key per embed, wrapped by the owner's keyring key.

Everything an embed holds — the content JSON in the database and each stored file — is an
AES-256-GCM envelope under the embed's data key, with a fresh nonce per encryption and AAD
binding it to the embed and the variant. The data key exists unwrapped only in memory, for
the duration of one operation or, for reads in the web process, in the bounded data-key cache
(``keyring/cache.py``); the database has only its wrapped form.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser
from django.db.models.signals import post_delete

from . import crypto, storage
from .content import ContentError, EmbedContent, FileMeta, Files, ImageContent, content_from_json
from .keyring import get_keyring, key_name_for_user
from .keyring.cache import data_keys
from .models import Embed

if TYPE_CHECKING:
    from .imaging import Rendition

CONTENT_VARIANT = "content"
FILE_VARIANTS = ("original", "full", "preview")
# Uploads to S3 are network-bound: overlap the three puts instead of paying three round trips.
_io_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="embed-io")


@dataclass
class OpenEmbed:
    """An embed with its unwrapped data key, for the length of one operation."""

    embed: Embed
    data_key: bytes = field(repr=False)  # never in a log line or a traceback's locals dump

    def content(self) -> EmbedContent:
        """The embed's typed content (its class follows the embed's type)."""
        return decrypt_content(self.embed, self.data_key)

    def image(self) -> ImageContent:
        """The content of an image embed; ContentError (stored data unreadable) for any other."""
        content = self.content()
        if not isinstance(content, ImageContent):
            raise ContentError(f"embed {self.embed.id} is not an image")
        return content

    def seal_content(self, content: EmbedContent) -> None:
        """Replace the embed's content (the caller saves the row)."""
        if content.type != self.embed.type:
            raise ValueError(f"{type(content).__name__} cannot be the content of a {self.embed.type} embed")
        self.embed.encrypted_content = encrypt_content(self.embed.id, self.data_key, content)

    def encrypt_file(self, variant: str, data: bytes) -> bytes:
        return crypto.encrypt(self.data_key, data, crypto.object_aad(self.embed.id, variant))

    def decrypt_file(self, variant: str, envelope: bytes) -> bytes:
        return crypto.decrypt(self.data_key, envelope, crypto.object_aad(self.embed.id, variant))

    def object_name(self, variant: str) -> str:
        return storage.object_name(self.embed.owner_id, self.embed.id, variant)

    def store_file(self, variant: str, data: bytes) -> int:
        """Encrypt and store one file; returns the stored (ciphertext) size."""
        envelope = self.encrypt_file(variant, data)
        storage.put_object(self.object_name(variant), envelope)
        return len(envelope)

    def load_file(self, variant: str) -> bytes:
        return self.decrypt_file(variant, storage.get_object(self.object_name(variant)))

    def store_blobs(self, blobs: dict[str, bytes]) -> dict[str, int]:
        """Encrypt and store files in parallel (each its own nonce); returns the stored sizes."""
        futures = {
            variant: _io_pool.submit(self.store_file, variant, blob) for variant, blob in blobs.items()
        }
        stored = {variant: future.result() for variant, future in futures.items()}
        self.embed.stored_bytes = sum(stored.values())
        return stored

    def store_renditions(self, renditions: dict[str, Rendition]) -> Files:
        """Encrypt and store every rendition in parallel; returns the files metadata for the content.

        Each file gets its own nonce; names are derived, so storing again overwrites."""
        self.store_blobs({variant: rendition.data for variant, rendition in renditions.items()})
        return {
            variant: FileMeta(
                width=rendition.width,
                height=rendition.height,
                size_bytes=len(rendition.data),
                format=rendition.format,
                mime=rendition.mime,
            )
            for variant, rendition in renditions.items()
        }


def encrypt_content(embed_id: uuid.UUID, data_key: bytes, content: EmbedContent) -> bytes:
    plaintext = json.dumps(content.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
    return crypto.encrypt(data_key, plaintext, crypto.object_aad(embed_id, CONTENT_VARIANT))


def decrypt_content(embed: Embed, data_key: bytes) -> EmbedContent:
    plaintext = crypto.decrypt(
        data_key, bytes(embed.encrypted_content), crypto.object_aad(embed.id, CONTENT_VARIANT)
    )
    try:
        data = json.loads(plaintext)
    except ValueError as exc:
        raise ContentError(f"embed {embed.id}: the content is not JSON") from exc
    return content_from_json(data, embed.type)


def new_embed(
    owner: AbstractBaseUser,
    *,
    content: EmbedContent,
    status: str = Embed.Status.PROCESSING,
    derived_from: Embed | None = None,
    version_kind: str = "",
    parent: Embed | None = None,
) -> OpenEmbed:
    """An unsaved embed with a fresh data key, wrapped for its owner, and its content sealed
    (the content's class says the embed's type).

    ``version_kind`` places an image in a lineage: under its ``parent`` (the version it was made
    from; usually but not always the image it is ``derived_from``) and that parent's root; an
    image without a parent is its own root. Embeds of other types pass no kind and stay outside
    any lineage."""
    data_key = crypto.new_data_key()
    embed = Embed(
        owner=owner,
        type=content.type,
        status=status,
        derived_from=derived_from,
        wrapped_key=get_keyring().wrap(key_name_for_user(owner.pk), data_key),
    )
    if version_kind:
        embed.version_kind = version_kind
        embed.parent = parent
        embed.root_id = (parent.root_id or parent.pk) if parent else embed.pk
    opened = OpenEmbed(embed=embed, data_key=data_key)
    opened.seal_content(content)
    return opened


def _unwrap(embed: Embed) -> bytes:
    return get_keyring().unwrap(key_name_for_user(embed.owner_id), embed.wrapped_key)


def open_embed(embed: Embed, *, cached: bool = False) -> OpenEmbed:
    """Unwrap the embed's data key (a keyring call: Vault in production). ``cached``: a read in
    the web process, which may take the key from (and leave it in) the data-key cache."""
    if not cached:
        return OpenEmbed(embed=embed, data_key=_unwrap(embed))
    data_key = data_keys.get(embed.id, embed.wrapped_key)
    if data_key is None:
        data_key = _unwrap(embed)
        data_keys.put(embed.id, embed.owner_id, embed.wrapped_key, data_key)
    return OpenEmbed(embed=embed, data_key=data_key)


def read_file(embed: Embed, variant: str) -> bytes:
    """One stored file, decrypted (a read: the data-key cache may answer the key). On a miss the
    object's GET (a round trip to S3) runs while the data key is unwrapped (a round trip to
    Vault): a download waits for the slower of the two, not their sum."""
    name = storage.object_name(embed.owner_id, embed.id, variant)
    data_key = data_keys.get(embed.id, embed.wrapped_key)
    if data_key is not None:
        return OpenEmbed(embed=embed, data_key=data_key).decrypt_file(variant, storage.get_object(name))
    envelope = _io_pool.submit(storage.get_object, name)
    data_key = _unwrap(embed)
    data_keys.put(embed.id, embed.owner_id, embed.wrapped_key, data_key)
    return OpenEmbed(embed=embed, data_key=data_key).decrypt_file(variant, envelope.result())


def _forget_deleted_embed(sender, instance: Embed, **kwargs) -> None:
    """A deleted embed's key leaves every process's data-key cache at once (crypto-shredding)."""
    data_keys.forget_embed(instance.id)


post_delete.connect(_forget_deleted_embed, sender=Embed, dispatch_uid="sealing.forget_deleted_embed")


def delete_files(embed: Embed, variants: tuple[str, ...]) -> None:
    for variant in variants:
        storage.delete_object(storage.object_name(embed.owner_id, embed.id, variant))
