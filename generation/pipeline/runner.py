"""The generation pipeline's runner: the stages (``stages.py``) in order, around them progress,
cancel polling, the task's transitions (``generation.lifecycle``) and clean-up.

provider -> staging -> labels -> renditions -> encrypt + store -> seal -> complete -> clean up.
Each stage persists what it produced before the next starts, so a redelivered message (worker
crash, retry) resumes instead of repeating: the provider's image is kept as an encrypted staging
object right after the call, and object names are derived from the embed id, so storing again
overwrites rather than duplicates. Every path ends the task ``completed``, ``failed`` or
``cancelled`` and the embed ``finished`` or ``error``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import UserPreferences
from embeds import imaging, sealing
from embeds.content import EmbedContent, Files
from embeds.keyring import KeyringError, KeyringUnavailable
from embeds.models import Embed
from embeds.storage import ObjectMissing, StorageUnavailable

from .. import lifecycle
from ..analysis.runner import analyze
from ..conf import conf
from ..models import Task
from ..providers.base import Cancelled, ErrorCode, GenerationRequest, ProviderError
from ..registry import ModelSpec, find_model
from . import stages

logger = logging.getLogger(__name__)

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
        fields = ["stage", "progress", "queue_position"]
        if eta_seconds is not None and task.started_at:
            elapsed = (timezone.now() - task.started_at).total_seconds()
            task.estimated_seconds = round(elapsed + eta_seconds, 1)
            fields.append("estimated_seconds")
        if provider_request_id and provider_request_id != task.provider_request_id:
            task.provider_request_id = provider_request_id
            fields.append("provider_request_id")
        lifecycle.heartbeat(task, *fields, embed_status=Embed.Status.PROCESSING)


def _cancel_checker(task: Task) -> Callable[[], bool]:
    """Polls the cancel flag (throttled); doubles as the heartbeat the stale-task reaper reads.

    A task whose row is gone (its embed was deleted meanwhile) counts as cancelled: the provider
    call is abandoned (and cancelled upstream where it can be) instead of being paid for."""
    last = {"at": 0.0, "beat": time.monotonic(), "value": False}

    def is_cancelled() -> bool:
        now = time.monotonic()
        if not last["value"] and now - last["at"] >= _CANCEL_POLL_INTERVAL:
            last["at"] = now
            last["value"] = lifecycle.is_cancel_requested(task)
            if now - last["beat"] >= min(10.0, conf().STALE_TASK_SECONDS / 3):
                last["beat"] = now
                lifecycle.heartbeat(task)
        return last["value"]

    return is_cancelled


class NotClaimed(Exception):
    """The database could not be reached to claim the task. Nothing was done, so delivering the
    message again is safe: the actor retries exactly this, with backoff."""


def run_task(task_id: str) -> None:
    try:
        task = lifecycle.claim(task_id)
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
        sealing.delete_files(task.embed, (*lifecycle.working_variants(task), *sealing.FILE_VARIANTS))
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
        lifecycle.end_cancelled(task)
    except ProviderError as exc:
        lifecycle.fail_or_retry(
            task,
            exc.code,
            exc.message,
            retryable=exc.retryable,
            retry_after=exc.retry_after,
            detail=exc.detail,
        )
    except (KeyringUnavailable, StorageUnavailable, DatabaseError) as exc:
        logger.warning("generation.task.dependency_unavailable task=%s error=%s", task.id, type(exc).__name__)
        lifecycle.fail_or_retry(
            task,
            SERVICE_UNAVAILABLE,
            "A storage service was unavailable; the image could not be saved.",
            retryable=True,
        )
    except imaging.InvalidImage as exc:
        lifecycle.fail_or_retry(
            task, ErrorCode.INTERNAL, f"The provider returned an unusable image ({exc.code})."
        )
    except (KeyringError, ObjectMissing) as exc:
        logger.error("generation.task.key_or_object_missing task=%s error=%s", task.id, type(exc).__name__)
        lifecycle.fail_or_retry(task, ErrorCode.INTERNAL, "The image's stored data is no longer available.")
    except Exception:
        logger.exception("generation.task.crashed task=%s", task.id)
        lifecycle.fail_or_retry(
            task, ErrorCode.INTERNAL, "Something went wrong on our side while making the image."
        )


@dataclass
class Run:
    """One attempt's inputs and what its stages have produced so far (the stage hook sees it)."""

    task: Task
    opened: sealing.OpenEmbed
    content: EmbedContent | None
    report: _Reporter
    is_cancelled: Callable[[], bool]
    resumed: bool = False  # an earlier attempt kept the provider's answer
    spec: ModelSpec | None = None
    request: GenerationRequest | None = None
    output: stages.ProviderOutput | None = None
    image: bytes | None = None
    label: imaging.AiLabel | None = None
    renditions: dict = field(default_factory=dict)
    files: Files | None = None


@dataclass(frozen=True)
class Step:
    """A named stage and what the runner does around it: skip it (``when`` is false), stop first
    if the task was cancelled or has ended (``stop_if_cancelled``), report ``stage``/``progress``."""

    name: str
    run: Callable[[Run], None]
    when: Callable[[Run], bool] = lambda run: True
    stop_if_cancelled: bool = False
    stage: str | None = None
    progress: int = 0


@cache
def _load_hook(path: str) -> Callable[[str, Run], None]:
    return import_string(path)


def stage_hook() -> Callable[[str, Run], None] | None:
    """The callable run before each stage (``GENERATION["STAGE_HOOK"]``): fault injection for
    the crash tests; None in production."""
    path = conf().STAGE_HOOK
    return _load_hook(path) if path else None


def _at(name: str, run: Run) -> None:
    hook = stage_hook()
    if hook is not None:
        hook(name, run)


def _resumed(run: Run) -> bool:
    return run.resumed


def _request(run: Run) -> None:
    run.request = stages.build_request(run.task, run.spec, run.content, run.opened)


def _call_provider(run: Run) -> None:
    run.output = stages.call_provider(run.spec, run.request, report=run.report, is_cancelled=run.is_cancelled)


def _stage_result(run: Run) -> None:
    run.content = stages.stage_result(run.opened, run.content, run.output)
    lifecycle.keep_provider_result(run.task, run.opened.embed, usage=run.output.usage)
    run.image = run.output.image


def _load_staged(run: Run) -> None:
    run.image = stages.load_staged(run.opened)


def _label(run: Run) -> None:
    prefs = UserPreferences.objects.filter(user_id=run.task.owner_id).first()
    keep_prompt = prefs is None or prefs.embed_prompt_in_metadata
    run.label, run.content = stages.build_label(run.spec, run.task, run.content, keep_prompt=keep_prompt)


def _render(run: Run) -> None:
    run.renditions = stages.render(run.image, run.label)


def _store(run: Run) -> None:
    run.files = stages.store(run.opened, run.renditions)


def _seal_image(run: Run) -> None:
    run.content = stages.seal_image(run.opened, run.content, run.files)


def _search(run: Run) -> None:
    run.content = stages.search(run.task, run.content)


def _analyze(run: Run) -> None:
    run.content, usage = analyze(run.task, run.opened, run.content, run.report, run.is_cancelled)
    if usage:
        lifecycle.record_usage(run.task, usage)


def _seal(run: Run) -> None:
    stages.seal(run.opened, run.content)


# Each kind's stages in order. A generation calls the provider at most once per task: its answer
# is staged (encrypted) right away, and a later attempt resumes from it.
GENERATE = (
    Step("request", _request, when=lambda run: not _resumed(run), stage="provider"),
    Step("provider", _call_provider, when=lambda run: not _resumed(run)),
    Step("staging", _stage_result, when=lambda run: not _resumed(run)),
    Step("resume", _load_staged, when=_resumed),
    Step("labels", _label, stop_if_cancelled=True, stage="encoding", progress=ENCODING_PROGRESS),
    Step("renditions", _render),
    # A task that ended meanwhile (cancelled, or finished by another delivery) must not have its
    # files replaced by this attempt's.
    Step("storing", _store, stop_if_cancelled=True, stage="storing", progress=STORING_PROGRESS),
    Step("sealing", _seal_image),
)
SEARCH = (
    Step("search", _search, stage="provider", progress=10),
    Step("sealing", _seal),
)
ANALYZE = (
    Step("analysis", _analyze),
    Step("sealing", _seal),
)
PIPELINES = {Task.Kind.REVERSE_SEARCH: SEARCH, Task.Kind.ANALYZE: ANALYZE}


def _execute(task: Task) -> None:
    """Run the task's stages in order, then end it ``completed`` and delete what only the
    pipeline needed. Each stage's output is kept before the next one starts."""
    run = Run(
        task=task,
        opened=sealing.open_embed(task.embed),
        content=None,
        report=_Reporter(task),
        is_cancelled=_cancel_checker(task),
        resumed=task.provider_result_stored,
    )
    run.content = run.opened.content()
    steps = PIPELINES.get(task.kind, GENERATE)
    if steps is GENERATE:
        run.spec = find_model(task.model)
        if run.spec is None:
            raise ProviderError(ErrorCode.INVALID_REQUEST, f"The model {task.model} is no longer configured.")
    for step in steps:
        if not step.when(run):
            continue
        if step.stop_if_cancelled and (run.is_cancelled() or lifecycle.has_ended(task)):
            raise Cancelled()
        if step.stage is not None:
            run.report(stage=step.stage, progress=step.progress, force=True)
        _at(step.name, run)
        step.run(run)
    _at("complete", run)
    if not lifecycle.complete(task, run.opened.embed, files=run.files):
        raise Cancelled()
    _at("cleanup", run)  # completed; its working objects not yet deleted
    lifecycle.clean_up(task)
