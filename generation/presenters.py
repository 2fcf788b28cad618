"""The public JSON shape of a task, shared by the REST API and the WebSocket events."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from core.schema import TaskSerializer, compile_shape
from embeds import sealing
from embeds.content import Files, public_files

from .models import Task

# The task columns task_payload reads: a poll loads these and no others.
TASK_PAYLOAD_FIELDS = (
    "id",
    "embed_id",
    "kind",
    "status",
    "progress",
    "stage",
    "queue_position",
    "model",
    "estimated_seconds",
    "created_at",
    "started_at",
    "finished_at",
    "attempts",
    "cost_usd",
    "error_code",
    "error_message",
)


def server_queue_position(task: Task) -> int | None:
    """A queued task's place in our own queue (1: next to start): every user's tasks share the
    workers, so everything queued before it counts."""
    if task.status != Task.Status.QUEUED:
        return None
    ahead = Task.objects.filter(status=Task.Status.QUEUED, created_at__lt=task.created_at).count()
    return ahead + 1


def estimated_finish_at(task: Task, position: int | None = None):
    """When the task should end. A queued one waits for the tasks ahead of it, as many at a time
    as are running now (the workers' observed width), then takes its own time. Counted from now,
    so a long wait never shows as an estimate that has already run out."""
    if task.is_terminal or task.estimated_seconds is None:
        return None
    if task.status == Task.Status.QUEUED and position is not None:
        running = Task.objects.filter(status=Task.Status.PROCESSING).count()
        # Nothing running: it starts now. Otherwise the ones ahead go `running` at a time.
        waiting = task.estimated_seconds * position / running if running else 0.0
        return timezone.now() + timedelta(seconds=waiting + task.estimated_seconds)
    start = task.started_at or task.created_at
    return start + timedelta(seconds=task.estimated_seconds)


# The task shape is TaskSerializer (core.schema): the REST answers, the socket's events and the
# webhooks render it through this renderer compiled from its fields, and the schema describes it.
_render_task = compile_shape(TaskSerializer)


def task_payload(task: Task, *, embed_status: str | None = None, files: Files | None = None) -> dict:
    position = server_queue_position(task)
    finish_at = estimated_finish_at(task, position)
    eta = max(0.0, (finish_at - timezone.now()).total_seconds()) if finish_at else None
    return _render_task(
        {
            "task_id": task.id,
            "embed_id": task.embed_id,
            "kind": task.kind,
            "status": task.status,
            "embed_status": embed_status,
            "progress": task.progress,
            "stage": task.stage,
            "queue_position": task.queue_position,
            "server_queue_position": position,
            "model": task.model,
            "eta_seconds": round(eta, 1) if eta is not None else None,
            "estimated_finish_at": finish_at,
            "created_at": task.created_at,
            "started_at": task.started_at,
            "finished_at": task.finished_at,
            "attempts": task.attempts,
            # Always four decimals, as stored: a fresh task holds the registry's Decimal("0.134").
            "cost_usd": f"{task.cost_usd:.4f}" if task.cost_usd is not None else None,
            "error": {"code": task.error_code, "message": task.error_message} if task.error_code else None,
            "files": public_files(files) if task.status == Task.Status.COMPLETED else None,
        }
    )


class VariantSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    embed_id = serializers.UUIDField()
    seed = serializers.IntegerField(
        allow_null=True, help_text="The seed this variant asks for (null: the provider picks one)."
    )
    status = serializers.ChoiceField(choices=["queued", "processing", "completed", "failed", "cancelled"])


class GenerationAcceptedSerializer(TaskSerializer):
    """A generate request's answer: the first variant's task, as it has always been (so a client
    of n=1 sees nothing new), and every variant, the first included, in ``variants``."""

    variants = VariantSerializer(many=True)


_render_variant = compile_shape(VariantSerializer)


def generation_payload(tasks: list[Task]) -> dict:
    """The answer to a generate request that made ``tasks`` (its variants, in order). Each
    variant's seed is read from its sealed content (the data-key cache usually holds the key), so
    an Idempotency-Key replay lists exactly what the first answer listed."""
    first = tasks[0]
    variants = [
        {
            "task_id": task.id,
            "embed_id": task.embed_id,
            "seed": sealing.open_embed(task.embed, cached=True).image().seed,
            "status": task.status,
        }
        for task in tasks
    ]
    return {
        **task_payload(first, embed_status=first.embed.status),
        "variants": [_render_variant(variant) for variant in variants],
    }
