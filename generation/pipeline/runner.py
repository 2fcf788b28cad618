"""The generation pipeline: provider -> renditions -> encrypt -> store -> finish -> notify.

Each stage persists what it produced before the next starts, so a redelivered message (worker
crash, retry) resumes instead of repeating: the provider's image is kept as an encrypted staging
object right after the call, and object names are derived from the embed id, so storing again
overwrites rather than duplicates. Every path ends the task ``completed``, ``failed`` or
``cancelled`` and the embed ``finished`` or ``error``.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.models import UserPreferences
from embeds import imaging, sealing
from embeds.content import EmbedContent, Files, ImageContent, Label, ProviderResult, SearchResultsContent
from embeds.imaging.compositing import composite_through_mask
from embeds.keyring import KeyringError, KeyringUnavailable
from embeds.models import Embed
from embeds.storage import ObjectMissing, StorageUnavailable

from .. import shared_links
from ..actions import enqueue_task, notify_task
from ..conf import conf
from ..models import Task
from ..providers.base import Cancelled, ErrorCode, GenerationRequest, ProviderError
from ..registry import find_model, provider_for
from ..webhooks import schedule_webhook

logger = logging.getLogger(__name__)

STAGING = "staging"
SERVICE_UNAVAILABLE = "service_unavailable"
_PROGRESS_WRITE_INTERVAL = 0.5
_CANCEL_POLL_INTERVAL = 0.3

# Where each stage sits on the 0-100 progress bar.
PROVIDER_SPAN = (5, 70)
ENCODING_PROGRESS = 75
STORING_PROGRESS = 90


class _Reporter:
    """Writes real progress to the task (throttled) and pushes it to the owner's tabs."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self._last_write = 0.0

    def __call__(
        self,
        *,
        stage: str,
        progress: int,
        queue_position: int | None = None,
        eta_seconds: float | None = None,
        provider_request_id: str | None = None,
        force: bool = False,
    ) -> None:
        task = self.task
        low, high = PROVIDER_SPAN
        if stage in {"queued", "generating", "provider"}:
            progress = low + (high - low) * max(0, min(100, progress)) // 100
        changed = stage != task.stage or queue_position != task.queue_position or progress > task.progress
        now = time.monotonic()
        if not changed or (
            not force and now - self._last_write < _PROGRESS_WRITE_INTERVAL and stage == task.stage
        ):
            return
        self._last_write = now
        task.stage = stage
        task.progress = max(task.progress, progress)
        task.queue_position = queue_position
        fields = ["stage", "progress", "queue_position", "heartbeat_at"]
        if eta_seconds is not None and task.started_at:
            elapsed = (timezone.now() - task.started_at).total_seconds()
            task.estimated_seconds = round(elapsed + eta_seconds, 1)
            fields.append("estimated_seconds")
        if provider_request_id and provider_request_id != task.provider_request_id:
            task.provider_request_id = provider_request_id
            fields.append("provider_request_id")
        task.heartbeat_at = timezone.now()
        Task.objects.filter(pk=task.pk).update(**{f: getattr(task, f) for f in fields})
        notify_task(task, embed_status=Embed.Status.PROCESSING)


def _crash_point(
    task: Task, content: EmbedContent, name: str, *, partial: Callable[[], object] | None = None
) -> None:
    """Fault injection for the worker-crash tests, with TEST_PROMPT_HOOKS only (never in
    production): a prompt containing ``[[crash:<name>]]`` SIGKILLs this worker process at that
    point of its first attempt, after ``partial`` (half of a stage's work) when given."""
    prompt = getattr(content, "prompt", None) or ""  # search and analysis contents have none
    if conf().TEST_PROMPT_HOOKS and task.attempts == 1 and f"[[crash:{name}]]" in prompt:
        if partial is not None:
            partial()
        logger.warning("generation.task.crash_injected task=%s at=%s", task.id, name)
        os.kill(os.getpid(), signal.SIGKILL)


def _cancel_checker(task: Task) -> Callable[[], bool]:
    """Polls the cancel flag (throttled); doubles as the heartbeat the stale-task reaper reads.

    A task whose row is gone (its embed was deleted meanwhile) counts as cancelled: the provider
    call is abandoned (and cancelled upstream where it can be) instead of being paid for."""
    last = {"at": 0.0, "beat": time.monotonic(), "value": False}

    def is_cancelled() -> bool:
        now = time.monotonic()
        if not last["value"] and now - last["at"] >= _CANCEL_POLL_INTERVAL:
            last["at"] = now
            flag = Task.objects.filter(pk=task.pk).values_list("cancel_requested", flat=True).first()
            last["value"] = flag is not False
            if now - last["beat"] >= min(10.0, conf().STALE_TASK_SECONDS / 3):
                last["beat"] = now
                Task.objects.filter(pk=task.pk).update(heartbeat_at=timezone.now())
        return last["value"]

    return is_cancelled


def _claim(task_id: str) -> Task | None:
    """Take the task for this attempt; None when there is nothing (left) to do."""
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("embed").filter(pk=task_id).first()
        if task is None or task.is_terminal:
            return None
        if task.cancel_requested:
            mark_cancelled(task)
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
        notify_task(task, embed_status=task.embed.status)
        return task


class NotClaimed(Exception):
    """The database could not be reached to claim the task. Nothing was done, so delivering the
    message again is safe: the actor retries exactly this, with backoff."""


def run_task(task_id: str) -> None:
    try:
        task = _claim(task_id)
    except DatabaseError as exc:  # e.g. no pooled connection free in time, or the database restarting
        logger.warning("generation.task.not_claimed task=%s error=%s", task_id, type(exc).__name__)
        raise NotClaimed(task_id) from exc
    if task is None:
        return
    started = time.monotonic()
    try:
        _attempt(task)
    except ObjectDoesNotExist:  # raised while ending the task, once its row has gone
        _abandon(task)
    finally:
        logger.info("generation.task.attempt_done task=%s seconds=%.3f", task.id, time.monotonic() - started)


def _abandon(task: Task) -> None:
    """The embed was deleted while its task ran (the task row went with it): delete whatever this
    attempt stored under the embed's derived names, so nothing is left without an owner."""
    try:
        sealing.delete_files(task.embed, (*working_variants(task), *sealing.FILE_VARIANTS))
    except StorageUnavailable:
        logger.warning("generation.task.abandoned_cleanup_failed task=%s", task.id)
    logger.info("generation.task.abandoned task=%s", task.id)


def _attempt(task: Task) -> None:
    """One attempt; every outcome ends in a retry, a failure or a cancellation."""
    try:
        _execute(task)
    except ObjectDoesNotExist:
        raise
    except Cancelled:
        mark_cancelled(task)
    except ProviderError as exc:
        _fail_or_retry(
            task,
            exc.code,
            exc.message,
            retryable=exc.retryable,
            retry_after=exc.retry_after,
            detail=exc.detail,
        )
    except (KeyringUnavailable, StorageUnavailable, DatabaseError) as exc:
        logger.warning("generation.task.dependency_unavailable task=%s error=%s", task.id, type(exc).__name__)
        _fail_or_retry(
            task,
            SERVICE_UNAVAILABLE,
            "A storage service was unavailable; the image could not be saved.",
            retryable=True,
        )
    except imaging.InvalidImage as exc:
        _fail_or_retry(task, ErrorCode.INTERNAL, f"The provider returned an unusable image ({exc.code}).")
    except (KeyringError, ObjectMissing) as exc:
        logger.error("generation.task.key_or_object_missing task=%s error=%s", task.id, type(exc).__name__)
        _fail_or_retry(task, ErrorCode.INTERNAL, "The image's stored data is no longer available.")
    except Exception:
        logger.exception("generation.task.crashed task=%s", task.id)
        _fail_or_retry(task, ErrorCode.INTERNAL, "Something went wrong on our side while making the image.")


def _provider_request(task: Task, content: ImageContent, opened: sealing.OpenEmbed) -> GenerationRequest:
    spec = find_model(task.model)
    source_image = mask = source_url = None
    if task.kind == Task.Kind.EDIT:
        source = Embed.objects.filter(pk=content.derived_from, owner_id=task.owner_id).first()
        if source is None:
            raise ProviderError(ErrorCode.INVALID_REQUEST, "The image to edit no longer exists.")
        source_image = imaging.clean_image_bytes(sealing.open_embed(source).load_file("original"))
        if spec.provider == "fal":  # fal fetches its input by URL: publish a stripped copy briefly
            source_url = shared_links.publish_copy(source, task.embed, task.id)
        try:
            mask = opened.load_file("mask")
        except ObjectMissing:
            mask = None
    return GenerationRequest(
        prompt=content.prompt,
        aspect_ratio=content.aspect_ratio,
        provider_model=spec.provider_model,
        seed=content.seed,
        image_size=content.image_size or "1K",
        source_image=source_image,
        mask=mask,
        source_image_url=source_url,
        timeout=spec.timeout_seconds,
    )


def _execute(task: Task) -> None:
    report = _Reporter(task)
    is_cancelled = _cancel_checker(task)
    opened = sealing.open_embed(task.embed)
    content = opened.content()
    if task.kind == Task.Kind.REVERSE_SEARCH:
        content = _search(task, opened, content, report)
        _finish(task, opened, content, files=None)
    elif task.kind == Task.Kind.ANALYZE:
        from ..analysis.runner import analyze

        content = analyze(task, opened, content, report, is_cancelled)
        _finish(task, opened, content, files=None)
    else:
        content = _generate(task, opened, content, report, is_cancelled)
        _finish(task, opened, content, files=content.files)


def _generate(
    task: Task,
    opened: sealing.OpenEmbed,
    content: ImageContent,
    report: _Reporter,
    is_cancelled: Callable[[], bool],
) -> ImageContent:
    spec = find_model(task.model)
    if spec is None:
        raise ProviderError(ErrorCode.INVALID_REQUEST, f"The model {task.model} is no longer configured.")

    # 1. Provider: called at most once per task; its result is staged (encrypted) right away.
    if task.provider_result_stored:
        image = opened.load_file(STAGING)
    else:
        report(stage="provider", progress=0, force=True)
        request = _provider_request(task, content, opened)
        result = provider_for(spec).generate(request, report=report, is_cancelled=is_cancelled)
        image = result.data
        if request.mask is not None:  # no provider honours a mask: keep every pixel outside it
            image = composite_through_mask(request.source_image, image, request.mask)
        _crash_point(task, content, "provider")  # paid for, not yet kept: the one call repeated
        opened.store_file(STAGING, image)
        content = replace(
            content,
            provider=ProviderResult(mime=result.mime, model_version=result.model_version, seed=result.seed),
            seed=result.seed if content.seed is None else content.seed,
        )
        opened.seal_content(content)
        with transaction.atomic():
            Embed.objects.filter(pk=task.embed_id).update(encrypted_content=opened.embed.encrypted_content)
            task.provider_result_stored = True
            task.usage = result.usage or {}
            Task.objects.filter(pk=task.pk).update(provider_result_stored=True, usage=task.usage)
        _crash_point(task, content, "staged")
    if is_cancelled():
        raise Cancelled()

    # 2. Renditions: original (pixels untouched) + full + preview, labelled and signed.
    report(stage="encoding", progress=ENCODING_PROGRESS, force=True)
    prefs = UserPreferences.objects.filter(user_id=task.owner_id).first()
    # Kept (encrypted) so that a crop of this image carries the very same label.
    label = Label(
        model_name=spec.provider_model,
        model_version=content.model_version,
        prompt=content.prompt if (prefs is None or prefs.embed_prompt_in_metadata) else None,
        composite=content.composite,
    )
    content = replace(content, ai_label=label)
    renditions = imaging.render_generated(
        image, label.for_image(actions=("c2pa.edited",) if task.kind == Task.Kind.EDIT else ())
    )
    _crash_point(task, content, "encoded")

    # 3. Encrypt and store (names derived from the embed id: a retry overwrites). A task that
    # ended meanwhile (cancelled, or finished by another delivery) must not have its files
    # replaced by this attempt's.
    if is_cancelled() or Task.objects.filter(pk=task.pk, status__in=Task.TERMINAL).exists():
        raise Cancelled()
    report(stage="storing", progress=STORING_PROGRESS, force=True)
    _crash_point(
        task, content, "uploading", partial=lambda: opened.store_file("original", renditions["original"].data)
    )
    files = opened.store_renditions(renditions)
    _crash_point(task, content, "stored")
    return replace(content, files=files, generated_at=timezone.now().isoformat())


def _search(
    task: Task, opened: sealing.OpenEmbed, content: SearchResultsContent, report: _Reporter
) -> SearchResultsContent:
    """Reverse image search: publish a stripped copy briefly, ask SerpApi, keep the results."""
    from ..reverse_search import search_by_image

    source = Embed.objects.filter(pk=content.source_embed_id, owner_id=task.owner_id).first()
    if source is None:
        raise ProviderError(ErrorCode.INVALID_REQUEST, "The image to search for no longer exists.")
    report(stage="provider", progress=10, force=True)
    url = shared_links.publish_copy(source, task.embed, task.id)
    results = search_by_image(url)
    return replace(
        content, results=results.results, message=results.message, searched_at=timezone.now().isoformat()
    )


def _finish(task: Task, opened: sealing.OpenEmbed, content: EmbedContent, *, files: Files | None) -> None:
    """Seal the final content and end the task ``completed`` atomically, unless a cancel
    arrived meanwhile; then drop what only the pipeline needed."""
    opened.seal_content(content)
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.cancel_requested or locked.is_terminal:
            raise Cancelled()
        embed = opened.embed
        embed.status = Embed.Status.FINISHED
        embed.save(update_fields=["encrypted_content", "status", "stored_bytes", "updated_at"])
        task.save_end(Task.Status.COMPLETED, stage="done")
        notify_task(task, embed_status=embed.status, files=files)
        schedule_webhook(task)
    _crash_point(task, content, "finished")  # completed; its working objects not yet deleted
    clean_up(task)
    logger.info("generation.task.completed task=%s attempts=%s", task.id, task.attempts)


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


def _backoff_ms(attempt: int, retry_after: float | None) -> int:
    settings = conf()
    if retry_after is not None:
        return int(min(retry_after * 1000, settings.RETRY_MAX_BACKOFF_MS * 10))
    base = settings.RETRY_MIN_BACKOFF_MS * (2 ** max(0, attempt - 1))
    return int(min(base, settings.RETRY_MAX_BACKOFF_MS) * random.uniform(0.75, 1.25))


def _fail_or_retry(
    task: Task,
    code: str,
    message: str,
    *,
    retryable: bool = False,
    retry_after: float | None = None,
    detail: str | None = None,
) -> None:
    if retryable and task.attempts <= conf().MAX_RETRIES:
        with transaction.atomic():
            locked = Task.objects.select_for_update().select_related("embed").get(pk=task.pk)
            if locked.is_terminal:
                return
            if locked.cancel_requested:
                mark_cancelled(locked)
                return
            locked.status = Task.Status.QUEUED
            locked.stage = "retrying"
            locked.save(update_fields=["status", "stage"])
            delay = _backoff_ms(locked.attempts, retry_after)
            enqueue_task(locked.id, delay_ms=delay)
            notify_task(locked, embed_status=locked.embed.status)
        logger.info("generation.task.retry task=%s code=%s delay_ms=%s", task.id, code, delay)
        return
    mark_failed(task, code, message, detail=detail)


def _seal_error_detail(embed: Embed, detail: str) -> None:
    """Keep the provider's own words (which may quote the prompt) in the encrypted content only."""
    try:
        opened = sealing.open_embed(embed)
        opened.seal_content(replace(opened.content(), error_detail=detail))
    except (KeyringError, DatabaseError):
        logger.warning("generation.task.error_detail_dropped embed=%s", embed.id)
        return
    Embed.objects.filter(pk=embed.pk).update(encrypted_content=opened.embed.encrypted_content)


def _end(task: Task, status: str, code: str, message: str, detail: str | None = None) -> None:
    """End the task ``status`` (failed or cancelled) and its embed ``error``, unless it has ended
    already; either way delete what this attempt left behind (a completed task keeps its files)."""
    with transaction.atomic():
        locked = Task.objects.select_for_update().select_related("embed").get(pk=task.pk)
        if not locked.is_terminal:
            locked.save_end(status, stage=status, error_code=code, error_message=message)
            Embed.objects.filter(pk=locked.embed_id).update(
                status=Embed.Status.ERROR, updated_at=timezone.now()
            )
            locked.embed.status = Embed.Status.ERROR
            if detail:
                _seal_error_detail(locked.embed, detail)
            notify_task(locked, embed_status=Embed.Status.ERROR)
            schedule_webhook(locked)
    clean_up(locked)


def mark_failed(task: Task, code: str, message: str, *, detail: str | None = None) -> None:
    _end(task, Task.Status.FAILED, code, message, detail)
    logger.info("generation.task.failed task=%s code=%s", task.id, code)


def mark_cancelled(task: Task) -> None:
    _end(task, Task.Status.CANCELLED, ErrorCode.CANCELLED, "The task was cancelled.")
    logger.info("generation.task.cancelled task=%s", task.id)
