"""Share links: one image, encrypted in the owner's browser under a key the server never sees.

The row holds what the server needs to enforce the link (owner, embed, expiry, view count) and,
for a password-protected link, the per-share PBKDF2 salt and iteration count, the share key
wrapped by a key derived from the password and the link's fragment secret, and a SHA-256 of the
password verifier (derived from the same inputs, so the hash alone lets nobody test passwords).
The ciphertext itself is one object in the normal storage layer (``embeds.storage``).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

ID_BYTES = 16  # 128 random bits: unguessable


def new_share_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


class Share(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_share_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares")
    embed = models.ForeignKey("embeds.Embed", on_delete=models.CASCADE, related_name="shares")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    view_count = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveIntegerField(default=0)
    include_prompt = models.BooleanField(default=True)
    password_salt = models.CharField(max_length=64, blank=True)
    password_iterations = models.PositiveIntegerField(null=True, blank=True)
    wrapped_key = models.CharField(max_length=128, blank=True)
    verifier_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"share of {self.embed_id}"

    @property
    def has_password(self) -> bool:
        return bool(self.verifier_hash)
