"""Completion webhooks (Standard Webhooks style). Filled in with the provider job model."""

from __future__ import annotations

from .models import Task


def schedule_webhook(task: Task) -> None:
    """Queue delivery of the task's final state to its webhook URL, if it has one."""
    if not task.webhook_url:
        return
