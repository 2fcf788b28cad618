"""Keeping every task moving: the stale-task reaper.

A worker that dies mid-task (SIGKILL, OOM, a lost machine) leaves its task ``processing`` with a
heartbeat that stops advancing. The reaper re-queues such tasks while they have attempts left
(the pipeline resumes from what was stored: the provider is not called again once its result is
staged) and fails them with a clear error after that. It also re-sends tasks that sat ``queued``
for too long, in case their message was lost with an in-process broker; a duplicate message is
harmless because a worker claims a task under a row lock and skips finished ones.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from sharing.actions import purge_expired

from . import lifecycle
from .conf import conf
from .models import Task

logger = logging.getLogger(__name__)


def reap_stale_tasks(*, stale_after: float | None = None) -> dict[str, int]:
    """One pass of the reaper; every transition it makes is the lifecycle's (and tells the tabs)."""
    deadline = timezone.now() - timedelta(
        seconds=stale_after if stale_after is not None else conf().STALE_TASK_SECONDS
    )
    counts = {"requeued": 0, "failed": 0, "resent": 0, "swept": 0}
    stale = Task.objects.filter(status=Task.Status.PROCESSING, heartbeat_at__lt=deadline).values_list(
        "id", flat=True
    )
    for task_id in list(stale):
        outcome = lifecycle.requeue_stale(task_id, stale_before=deadline)
        if outcome is not None:
            counts[outcome] += 1
    swept_before = timezone.now() - timedelta(seconds=min(30.0, conf().STALE_TASK_SECONDS))
    for task in Task.objects.select_related("embed").filter(
        cleanup_pending=True, finished_at__lt=swept_before
    ):
        lifecycle.clean_up(task)  # a worker died between ending the task and deleting its working objects
        counts["swept"] += 1
    # Queued with no worker on it for too long: its message was lost (an in-process broker that
    # died, or a worker killed between committing a retry and sending its message).
    lost = Task.objects.filter(status=Task.Status.QUEUED).filter(
        Q(heartbeat_at__lt=deadline) | Q(heartbeat_at__isnull=True, created_at__lt=deadline)
    )
    for task_id in list(lost.values_list("id", flat=True)):
        if lifecycle.resend_if_queued(task_id):
            counts["resent"] += 1
    if any(counts.values()):
        logger.warning("generation.reaper.ran %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def start_reaper_thread() -> threading.Thread:
    """Run the reaper every REAPER_INTERVAL_SECONDS in a daemon thread of this process."""
    stop = threading.Event()
    interval = conf().REAPER_INTERVAL_SECONDS

    def loop() -> None:
        while not stop.wait(interval):
            try:
                reap_stale_tasks()
                purge_expired()  # expired share links lose their ciphertext
            except Exception:
                logger.exception("generation.reaper.crashed")
            finally:
                close_old_connections()

    thread = threading.Thread(target=loop, name="stale-task-reaper", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread


def resume_inprocess_tasks() -> int:
    """Embedded default only: the in-memory queue died with the last process, so every task
    that was not finished is queued again (it resumes from whatever it had stored)."""
    count = 0
    for task_id in Task.objects.filter(status__in=lifecycle.ACTIVE).values_list("id", flat=True):
        lifecycle.resume(task_id)
        count += 1
    if count:
        logger.info("generation.tasks.resumed count=%s", count)
    return count
