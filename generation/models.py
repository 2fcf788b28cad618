"""Tasks: one background job each (a generation, an edit, a reverse image search).

A task never holds a prompt or image bytes in plaintext: the prompt lives in the embed's
encrypted content, and a provider result waiting for post-processing is kept as an encrypted
staging object whose key is derived from the task id (so a redelivered message reuses it and
the provider is not charged twice).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Task(models.Model):
    class Kind(models.TextChoices):
        GENERATE = "generate", "Generate image"
        EDIT = "edit", "Edit image"
        REVERSE_SEARCH = "reverse_search", "Reverse image search"
        ANALYZE = "analyze", "Answer a question about an image"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="image_tasks")
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.GENERATE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=32, blank=True, default="queued")
    queue_position = models.IntegerField(null=True, blank=True)
    embed = models.ForeignKey("embeds.Embed", on_delete=models.CASCADE, related_name="tasks")
    model = models.CharField(max_length=128)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_result_stored = models.BooleanField(default=False)
    provider_request_id = models.CharField(max_length=128, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Set when the task ends and cleared once its working objects (staging, mask, shared copy)
    # are deleted; the reaper sweeps what a worker that died in between left behind.
    cleanup_pending = models.BooleanField(default=False, db_index=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001  (NULL = no key, unique otherwise)
    # A keyed hash of the request an Idempotency-Key was first used with (never the request
    # itself): a repeat with a different body is refused instead of silently answered.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    webhook_url = models.URLField(max_length=2000, blank=True)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    estimated_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="unique_idempotency_key_per_owner",
            )
        ]
        indexes = [models.Index(fields=["model", "status", "-finished_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class ImageReport(models.Model):
    """A user's "Report problem" on a generated image (artifacts, wrong content…). The prompt is
    not copied here: the report points at the embed, whose content stays encrypted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="image_reports"
    )
    embed = models.ForeignKey("embeds.Embed", on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=64, default="artifacts")
    regenerated_task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"report {self.reason} on {self.embed_id}"
