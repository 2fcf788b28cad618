"""Staff views of tasks: status, durations and errors; retry failed ones, cancel queued ones.

A task names no embed here: linking a "generate" task to its embed would tell staff which
images are AI-made and which were uploaded, which the embed list deliberately does not."""

from __future__ import annotations

from django.contrib import admin

from . import lifecycle
from .actions import do_cancel_task
from .models import Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "kind",
        "model",
        "status",
        "progress",
        "attempts",
        "duration",
        "error_code",
        "created_at",
    )
    list_filter = ("status", "kind", "model", "error_code", "created_at")
    search_fields = ("id", "owner__username")
    fields = (
        "id",
        "owner",
        "kind",
        "model",
        "status",
        "stage",
        "progress",
        "attempts",
        "error_code",
        "error_message",
        "cost_usd",
        "usage",
        "created_at",
        "started_at",
        "finished_at",
        "provider_request_id",
    )
    readonly_fields = fields
    actions = ["retry_failed", "cancel_queued"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="duration (s)")
    def duration(self, task: Task) -> str:
        seconds = task.duration_seconds
        return f"{seconds:.1f}" if seconds is not None else "–"

    @admin.action(description="Retry selected failed tasks")
    def retry_failed(self, request, queryset) -> None:
        """Each failed task from scratch (lifecycle.retry: queued, and its owner's tabs told)."""
        ids = queryset.filter(status=Task.Status.FAILED).values_list("id", flat=True)
        count = sum(lifecycle.retry(task_id) for task_id in list(ids))
        self.message_user(request, f"Queued {count} task(s) again.")

    @admin.action(description="Cancel selected queued tasks")
    def cancel_queued(self, request, queryset) -> None:
        tasks = list(queryset.filter(status=Task.Status.QUEUED))
        for task in tasks:
            do_cancel_task(task)
        self.message_user(request, f"Cancelled {len(tasks)} task(s).")
