"""The task state machine: the one module that writes a task's status.

::

    create ─► queued ─claim─► processing ─complete─► completed
                ▲  │              │  │
                │  └───cancel──┐  │  └─fail──────► failed ─retry (staff)─► queued
                └──requeue─────┼──┘                 (a fail_or_retry with attempts left requeues)
                               ▼
                           cancelled   (a running task is flagged; its worker ends it)

Every transition takes the row lock (``select_for_update``) or is one conditional UPDATE, checks
that the task is still where the transition starts from (so a duplicate delivery, a late cancel
or the reaper racing a live worker changes nothing), and tells the owner's open tabs (and the
webhook, for an ending) only once the transaction commits. Queued work is the task id, sent on
commit by actor name (``broker.enqueue_on_commit``). The runner, the reaper, the admin, embed
deletion and the API call these functions; nothing else writes ``Task.status``
(tests/generation/test_lifecycle.py checks the source tree for it).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import DatabaseError, OperationalError, transaction
from django.utils import timezone

from core.realtime import EMBED_UPDATE, send_to_user
from embeds import sealing
from embeds.content import Files
from embeds.keyring import KeyringError
from embeds.models import Embed
from embeds.storage import StorageUnavailable

from . import shared_links
from .broker import RUN_TASK, enqueue_on_commit
from .conf import conf
from .models import Task
from .presenters import task_payload
from .providers.base import ErrorCode
from .webhooks import schedule_webhook

logger = logging.getLogger(__name__)

STAGING = "staging"
ACTIVE = (Task.Status.QUEUED, Task.Status.PROCESSING)


def notify(task: Task, *, embed_status: str, files: Files | None = None) -> None:
    """Push the task's state to the owner's tabs after commit."""
    payload = task_payload(task, embed_status=embed_status, files=files)
    transaction.on_commit(lambda: send_to_user(task.owner_id, EMBED_UPDATE, payload))


def enqueue(task_id: object, *, delay_ms: int | None = None) -> None:
    """Queue the task's id for a worker once the surrounding transaction commits."""
    enqueue_on_commit(RUN_TASK, str(task_id), delay_ms=delay_ms)


def create(*, embed: Embed, **fields: object) -> Task:
    """Insert a queued task for a freshly sealed embed, queue its id and tell the owner's tabs."""
    task = Task.objects.create(embed=embed, status=Task.Status.QUEUED, **fields)
    enqueue(task.id)
    notify(task, embed_status=embed.status)
    return task


def claim(task_id: str) -> Task | None:
    """Take the task for this attempt; None when there is nothing (left) to do.

    Under the row lock, so of two workers handed the same message only one gets the task: the
    other finds it ``processing`` with a fresh heartbeat and leaves it."""
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("embed").filter(pk=task_id).first()
        if task is None or task.is_terminal:
            return None
        if task.cancel_requested:
            end_cancelled(task)
            return None
        now = timezone.now()
        fresh = now - timedelta(seconds=conf().STALE_TASK_SECONDS)
        if task.status == Task.Status.PROCESSING and task.heartbeat_at and task.heartbeat_at > fresh:
            # Another worker is on it (a duplicate delivery): never run one task twice at once.
            # If that worker died, its heartbeat goes stale and the reaper queues the task again.
            logger.info("generation.task.already_running task=%s", task.id)
            return None
        task.status = Task.Status.PROCESSING
        task.attempts += 1
        task.started_at = task.started_at or now
        task.heartbeat_at = now
        task.stage = "starting"
        task.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "stage"])
        notify(task, embed_status=task.embed.status)
        return task


def heartbeat(task: Task, *fields: str, embed_status: str | None = None) -> None:
    """Record that the task's worker is alive, with the progress ``fields`` it has changed on
    ``task`` (stage, progress, queue position…); with ``embed_status``, tell the owner's tabs."""
    task.heartbeat_at = timezone.now()
    Task.objects.filter(pk=task.pk).update(
        heartbeat_at=task.heartbeat_at, **{f: getattr(task, f) for f in fields}
    )
    if embed_status is not None:
        notify(task, embed_status=embed_status)


def is_cancel_requested(task: Task) -> bool:
    """Whether the task should stop: cancel asked for, or its row gone (its embed was deleted)."""
    flag = Task.objects.filter(pk=task.pk).values_list("cancel_requested", flat=True).first()
    return flag is not False


def has_ended(task: Task) -> bool:
    """Whether the task ended meanwhile (cancelled, or finished by another delivery)."""
    return Task.objects.filter(pk=task.pk, status__in=Task.TERMINAL).exists()


def keep_provider_result(task: Task, embed: Embed, *, usage: dict) -> None:
    """Record that the provider's answer is staged (and the embed content that says what it
    was): a redelivered message resumes from it instead of paying for a second call."""
    with transaction.atomic():
        Embed.objects.filter(pk=embed.pk).update(encrypted_content=embed.encrypted_content)
        task.provider_result_stored = True
        task.usage = usage
        Task.objects.filter(pk=task.pk).update(provider_result_stored=True, usage=usage)


def record_usage(task: Task, usage: dict) -> None:
    """Keep what the provider reported it used (tokens, images) for the task's cost."""
    task.usage = usage
    Task.objects.filter(pk=task.pk).update(usage=usage)


T = TypeVar("T")
# PostgreSQL's SQLSTATE for "deadlock detected": it aborted this transaction to break a cycle.
DEADLOCK = "40P01"
ENDING_ATTEMPTS = 3


def _ending_transaction(work: Callable[[], T]) -> T:
    """Run ``work`` in a transaction, and again if PostgreSQL broke a deadlock by aborting it.

    Ending a task locks its row and then its embed's; deleting the embed at that moment locks
    them the other way round, and PostgreSQL aborts one of the two. When it is the ending, the
    ending runs again once the deletion has committed, and then finds the task gone (the runner
    abandons it) instead of leaving the message to fail with its working objects kept. Inside a
    caller's transaction nothing can be retried, so the error goes up as before."""
    for attempt in range(1, ENDING_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as exc:
            deadlocked = getattr(exc.__cause__, "sqlstate", None) == DEADLOCK
            if not deadlocked or attempt == ENDING_ATTEMPTS or transaction.get_connection().in_atomic_block:
                raise
            logger.info("generation.task.ending_retried_after_deadlock attempt=%s", attempt)
    raise AssertionError("unreachable")


def complete(task: Task, embed: Embed, *, files: Files | None) -> bool:
    """End the task ``completed`` and its embed ``finished`` (its content sealed by the caller),
    unless a cancel arrived or the task ended meanwhile: then nothing is written and False says
    the caller must not keep its work."""

    def end() -> bool:
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.cancel_requested or locked.is_terminal:
            return False
        embed.status = Embed.Status.FINISHED
        embed.save(update_fields=["encrypted_content", "status", "stored_bytes", "updated_at"])
        _save_end(task, Task.Status.COMPLETED, stage="done")
        notify(task, embed_status=embed.status, files=files)
        schedule_webhook(task)
        return True

    if not _ending_transaction(end):
        return False
    logger.info("generation.task.completed task=%s attempts=%s", task.id, task.attempts)
    return True


def _save_end(task: Task, status: str, *, stage: str, error_code: str = "", error_message: str = "") -> None:
    """Write the one ending of a task (completed, failed or cancelled). The caller holds the row
    lock and has checked that the task has not ended; its working objects are then owed a
    clean-up, which ``cleanup_pending`` records until it is done."""
    task.status = status
    task.stage = stage
    task.error_code = error_code
    task.error_message = error_message
    task.queue_position = None
    task.finished_at = timezone.now()
    task.cleanup_pending = True
    fields = [
        "status",
        "stage",
        "error_code",
        "error_message",
        "queue_position",
        "finished_at",
        "cleanup_pending",
    ]
    if status == Task.Status.COMPLETED:
        task.progress = 100
        fields.append("progress")
    task.save(update_fields=fields)


def _seal_error_detail(embed: Embed, detail: str) -> None:
    """Keep the provider's own words (which may quote the prompt) in the encrypted content only."""
    try:
        opened = sealing.open_embed(embed)
        opened.seal_content(replace(opened.content(), error_detail=detail))
    except (KeyringError, DatabaseError):
        logger.warning("generation.task.error_detail_dropped embed=%s", embed.id)
        return
    Embed.objects.filter(pk=embed.pk).update(encrypted_content=opened.embed.encrypted_content)


def _end(task: Task, status: str, code: str, message: str, detail: str | None = None) -> Task:
    """End the task ``status`` (failed or cancelled) and its embed ``error``, unless it has ended
    already; either way delete what this attempt left behind (a completed task keeps its files)."""

    def end() -> Task:
        locked = Task.objects.select_for_update().select_related("embed").get(pk=task.pk)
        if not locked.is_terminal:
            _save_end(locked, status, stage=status, error_code=code, error_message=message)
            Embed.objects.filter(pk=locked.embed_id).update(
                status=Embed.Status.ERROR, updated_at=timezone.now()
            )
            locked.embed.status = Embed.Status.ERROR
            if detail:
                _seal_error_detail(locked.embed, detail)
            notify(locked, embed_status=Embed.Status.ERROR)
            schedule_webhook(locked)
        return locked

    locked = _ending_transaction(end)
    clean_up(locked)
    return locked


def fail(task: Task, code: str, message: str, *, detail: str | None = None) -> None:
    """End the task ``failed`` with an error code and a message the owner may read."""
    _end(task, Task.Status.FAILED, code, message, detail)
    logger.info("generation.task.failed task=%s code=%s", task.id, code)


def end_cancelled(task: Task) -> None:
    """End the task ``cancelled`` (its worker saw the flag, or it was still queued)."""
    _end(task, Task.Status.CANCELLED, ErrorCode.CANCELLED, "The task was cancelled.")
    logger.info("generation.task.cancelled task=%s", task.id)


def backoff_ms(attempt: int, retry_after: float | None) -> int:
    """Jittered exponential backoff; a provider's own ``retry_after`` wins (capped)."""
    settings = conf()
    if retry_after is not None:
        return int(min(retry_after * 1000, settings.RETRY_MAX_BACKOFF_MS * 10))
    base = settings.RETRY_MIN_BACKOFF_MS * (2 ** max(0, attempt - 1))
    return int(min(base, settings.RETRY_MAX_BACKOFF_MS) * random.uniform(0.75, 1.25))


def _requeue(locked: Task, *, stage: str = "retrying", delay_ms: int | None = None) -> None:
    """Put a locked, running task back in the queue (it resumes from what it stored)."""
    locked.status = Task.Status.QUEUED
    locked.stage = stage
    locked.save(update_fields=["status", "stage"])
    enqueue(locked.id, delay_ms=delay_ms)
    notify(locked, embed_status=locked.embed.status)


def fail_or_retry(
    task: Task,
    code: str,
    message: str,
    *,
    retryable: bool = False,
    retry_after: float | None = None,
    detail: str | None = None,
) -> None:
    """A failed attempt: queued again with backoff while it is retryable and has attempts left
    (cancelled instead if that was asked for meanwhile), else ended ``failed``."""
    if retryable and task.attempts <= conf().MAX_RETRIES:
        with transaction.atomic():
            locked = Task.objects.select_for_update().select_related("embed").get(pk=task.pk)
            if locked.is_terminal:
                return
            if locked.cancel_requested:
                end_cancelled(locked)
                return
            delay = backoff_ms(locked.attempts, retry_after)
            _requeue(locked, delay_ms=delay)
        logger.info("generation.task.retry task=%s code=%s delay_ms=%s", task.id, code, delay)
        return
    fail(task, code, message, detail=detail)


def requeue_stale(task_id: object, *, stale_before: datetime) -> str | None:
    """The reaper's transition for a task whose worker stopped beating before ``stale_before``:
    ``"requeued"`` while it has attempts left, ``"failed"`` after that, None when it is not (or
    no longer) such a task or another transaction holds it."""
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(skip_locked=True)
            .select_related("embed")
            .filter(pk=task_id)
            .first()
        )
        if task is None or task.status != Task.Status.PROCESSING or task.heartbeat_at >= stale_before:
            return None
        if task.attempts <= conf().MAX_RETRIES:
            _requeue(task)
            return "requeued"
    fail(task, ErrorCode.INTERNAL, "The worker handling this image stopped; please try again.")
    return "failed"


def resend_if_queued(task_id: object) -> bool:
    """Send a queued task's message again (the first was lost); the heartbeat marks the resend,
    so the reaper waits a full period before the next one. False if it is no longer queued."""
    with transaction.atomic():
        if Task.objects.filter(pk=task_id, status=Task.Status.QUEUED).update(heartbeat_at=timezone.now()):
            enqueue(task_id)
            return True
    return False


def resume(task_id: object) -> None:
    """Embedded default, at start-up: queue a task the dead in-memory queue held (a running one
    becomes queued again and resumes from what it had stored)."""
    with transaction.atomic():
        Task.objects.filter(pk=task_id, status=Task.Status.PROCESSING).update(status=Task.Status.QUEUED)
        enqueue(task_id)


def retry(task_id: object) -> bool:
    """Staff's retry of a failed task: from scratch (attempts, provider result and error reset),
    its embed back to ``processing``, queued, and the owner's tabs told. False unless failed."""
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("embed").filter(pk=task_id).first()
        if task is None or task.status != Task.Status.FAILED:
            return False
        task.status = Task.Status.QUEUED
        task.stage = "queued"
        task.progress = 0
        task.attempts = 0
        task.provider_result_stored = False
        task.error_code = task.error_message = ""
        task.finished_at = None
        task.save(
            update_fields=[
                "status",
                "stage",
                "progress",
                "attempts",
                "provider_result_stored",
                "error_code",
                "error_message",
                "finished_at",
            ]
        )
        Embed.objects.filter(pk=task.embed_id).update(
            status=Embed.Status.PROCESSING, updated_at=timezone.now()
        )
        task.embed.status = Embed.Status.PROCESSING
        enqueue(task.id)
        notify(task, embed_status=task.embed.status)
    logger.info("generation.task.retried task=%s", task.id)
    return True


def cancel(task: Task) -> Task:
    """The owner's (or staff's) cancel: a queued task ends at once; a running one is flagged and
    its worker stops it at the provider (fal cancel URL) and ends it ``cancelled`` without
    storing anything; an ended task is left as it is. Returns the task as it now stands."""
    with transaction.atomic():
        locked = Task.objects.select_for_update().select_related("embed").get(pk=task.pk)
        if locked.is_terminal:
            return locked
        if locked.status == Task.Status.QUEUED:
            end_cancelled(locked)
        else:
            Task.objects.filter(pk=locked.pk).update(cancel_requested=True)
    return Task.objects.select_related("embed").get(pk=task.pk)


def cancel_for_embed(embed_id: object) -> int:
    """Flag every unfinished task of an embed about to be deleted (committed before any of its
    objects is deleted), so no worker can finish it: each stops, and deletes what it stored
    itself, whether it sees the flag or finds its row already gone. Returns how many."""
    with transaction.atomic():
        return Task.objects.filter(embed_id=embed_id, status__in=ACTIVE).update(cancel_requested=True)


def working_variants(task: Task) -> tuple[str, ...]:
    """Objects a task needs only while it runs. An edit keeps its mask (encrypted, and deleted
    with its embed) unless it was cancelled: staff can retry a failed edit, and the user can have
    a finished one made again ("Report problem / Regenerate"). A failed or cancelled task keeps
    no image."""
    variants: tuple[str, ...] = (STAGING, shared_links.shared_variant(task.id))
    if task.status == Task.Status.CANCELLED:
        variants += ("mask",)
    if task.status != Task.Status.COMPLETED:
        variants += sealing.FILE_VARIANTS
    return variants


def clean_up(task: Task) -> None:
    """Delete the ended task's working objects; on failure the reaper sweeps them later."""
    try:
        sealing.delete_files(task.embed, working_variants(task))
    except StorageUnavailable:
        logger.warning("generation.task.cleanup_deferred task=%s", task.id)
        return
    Task.objects.filter(pk=task.pk).update(cleanup_pending=False)
