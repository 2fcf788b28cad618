"""Chats and messages of the web UI. An embed is referenced, never copied, so one image can
appear in several chats (cross-chat references)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Chat(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chats")
    # Titles and message texts are user content: ciphertext under the chat's data key,
    # which the owner's keyring key wraps (same envelope as embeds).
    wrapped_key = models.TextField()
    encrypted_title = models.BinaryField(default=b"")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return str(self.id)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    encrypted_text = models.BinaryField(default=b"")
    embeds = models.ManyToManyField("embeds.Embed", through="MessageEmbed", related_name="messages")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.role} message {self.id}"


class MessageEmbed(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE)
    embed = models.ForeignKey("embeds.Embed", on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["message", "embed"], name="unique_embed_per_message")]

    def __str__(self) -> str:
        return f"{self.embed_id} in {self.message_id}"
