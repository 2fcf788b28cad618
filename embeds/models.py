"""Embeds: the unit of content a chat message can reference.

The database holds only ciphertext for anything a user made: ``encrypted_content`` is an
AES-256-GCM envelope (see ``embeds.crypto``) under the embed's data key, and ``wrapped_key`` is
that data key wrapped by the owner's key in the keyring. Storage keys of the files are derived
(``embeds.storage``), so no column reveals formats, variants, prompts or sizes.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Embed(models.Model):
    class Type(models.TextChoices):
        IMAGE = "image", "Image"
        IMAGE_SEARCH_RESULTS = "image_search_results", "Image search results"
        IMAGE_ANALYSIS = "image_analysis", "Image analysis"

    class Status(models.TextChoices):
        PROCESSING = "processing", "Processing"
        FINISHED = "finished", "Finished"
        ERROR = "error", "Error"

    class VersionKind(models.TextChoices):
        """How an image came to be: the step in its lineage. Coarse on purpose (a task's kind
        already says generate or edit in plaintext); the prompt and model stay sealed."""

        GENERATED = "generated", "Generated"
        REGENERATED = "regenerated", "Regenerated"
        EDITED = "edited", "Edited"
        CROPPED = "cropped", "Cropped"
        DRAWN = "drawn", "Drawn on"
        UPLOADED = "uploaded", "Uploaded"

    class EncryptionMode(models.TextChoices):
        VAULT = "vault", "Server-managed (vault)"
        CLIENT = "client", "Client-side"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="embeds")
    type = models.CharField(max_length=32, choices=Type.choices, default=Type.IMAGE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING, db_index=True)
    encryption_mode = models.CharField(
        max_length=16, choices=EncryptionMode.choices, default=EncryptionMode.VAULT
    )
    encrypted_content = models.BinaryField()
    wrapped_key = models.TextField()
    derived_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derivatives"
    )
    # An image's lineage: ``parent`` is the version this one was made from (the edited, cropped,
    # drawn-on or regenerated image; it differs from ``derived_from`` only for a regenerate,
    # whose pixels come from the provider again), ``root`` the first version (itself for a root).
    # Search results and analyses have no lineage (``version_kind`` blank, ``root`` null).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    root = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version_kind = models.CharField(max_length=16, choices=VersionKind.choices, blank=True, default="")
    # Total stored bytes over all variants: lets staff see storage use without seeing content.
    stored_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["root", "created_at"], name="embeds_lineage_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class KeyringKey(models.Model):
    """A per-user key-encryption key of the local keyring, itself encrypted under the master key.

    Only the local keyring backend uses this table; with Vault the per-user keys live in Vault.
    Deleting the row is crypto-shredding: every data key wrapped by it becomes unreadable.
    """

    name = models.CharField(max_length=128, unique=True)
    encrypted_kek = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class UsageEvent(models.Model):
    """One use of a limited resource that makes no Task (an image decoded for an upload or a
    crop), kept for a minute so ``embeds.limits`` can count a user's last minute."""

    class Kind(models.TextChoices):
        IMAGE_DECODE = "image_decode", "Image decoded (upload, crop)"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "generation_usageevent"  # made by generation before the limit moved here
        indexes = [
            models.Index(fields=["owner", "kind", "created_at"], name="generation__owner_i_1027ef_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.owner_id} at {self.created_at}"


class EmbedKey(models.Model):
    """The key of a client-mode embed, wrapped by its owner's master key (``accounts.MasterKey``).

    The spec's ``embed_keys`` collection: the web app looks for a row here for every embed it
    shows, and decrypts the embed's files itself when it finds one. ``wrapped_key`` and
    ``encrypted_meta`` (the file name and each rendition's size and type, as JSON) are ciphertext
    the server cannot open: it has neither the master key nor the embed key."""

    embed = models.OneToOneField(Embed, on_delete=models.CASCADE, related_name="embed_key")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="embed_keys")
    wrapped_key = models.TextField()  # base64url(IV (12) || AES-GCM(master key, embed key) || tag)
    encrypted_meta = models.TextField()  # base64url(IV (12) || AES-GCM(embed key, meta JSON) || tag)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "embed"])]

    def __str__(self) -> str:
        return f"embed key of {self.embed_id}"
