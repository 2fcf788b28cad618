"""Per-user API keys and preferences.

API keys are stored as an HMAC-SHA256 of the raw key (keyed by a purpose-salted derivative of
SECRET_KEY), so a database dump does not yield usable keys; the short prefix identifies a key
in lists without revealing it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class UserPreferences(models.Model):
    """Choices a user makes about their own data."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    # Prompts are personal data: the user decides whether they travel inside the image's XMP.
    embed_prompt_in_metadata = models.BooleanField(default=True)
    webhook_secret = models.CharField(max_length=64, blank=True)
    # The composer's "Private" box starts ticked: uploads are encrypted in the browser.
    private_uploads_by_default = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class MasterKey(models.Model):
    """The user's zero-knowledge master key, as only the browser can open it.

    The browser makes an AES-256 key, wraps it (AES-GCM, fresh IV) under a key it derives from
    the password with PBKDF2-SHA256 and this row's salt, and stores the result here; the server
    never sees the derived key or the raw master key, so it cannot unwrap this. The master key in
    turn wraps the embed keys of client-mode images (``embeds.EmbedKey``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="master_key")
    wrapped_key = models.TextField()  # base64url(IV (12) || AES-GCM(wrapping key, master key) || tag)
    salt = models.CharField(max_length=64)  # base64url of 16 random bytes, drawn by the browser
    iterations = models.PositiveIntegerField()
    # The wrapping scheme; a later one (another KDF) gets a new number and both stay readable.
    version = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"master key of {self.user_id} (v{self.version})"
