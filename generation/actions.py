"""Actions that create and control generation tasks. Views call exactly one of these.

``check_create_generation`` validates what only the server can know (model availability, rate
limits, idempotency), then creates the embed placeholder and the task in one transaction and
queues the task id after commit: a rolled-back request never leaves a queued message behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Avg, F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core.errors import ApiError
from core.quota import user_quota_lock
from embeds import sealing
from embeds.actions import do_create_upload_embed, do_delete_embed
from embeds.content import Files, ImageContent, SearchResultsContent
from embeds.models import Embed
from embeds.storage import ObjectMissing

from . import lifecycle
from .availability import edit_unavailable_reason, model_status, search_unavailable_reason
from .conf import conf
from .limits import check_task_limits
from .models import ImageReport, Task
from .registry import ModelSpec, default_model, find_model
from .reverse_search import is_available
from .webhooks import WebhookRefused, check_webhook_url

logger = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW = timedelta(hours=24)
_FINGERPRINT_SALT = "openmates_images.generation.request_fingerprint"
IDEMPOTENCY_KEY_SALT = "openmates_images.generation.idempotency_key"  # also in migration 0006


@dataclass(frozen=True)
class GenerationParams:
    prompt: str
    aspect_ratio: str
    model: ModelSpec
    seed: int | None = None
    seed_pinned: bool = True  # False: a seed drawn for a regenerate, not one the user chose
    image_size: str = "1K"
    kind: str = Task.Kind.GENERATE
    source: Embed | None = None  # edits: the image to edit
    mask: bytes | None = None  # edits: PNG, white = change
    composite: bool = False  # edits of an uploaded photo are labelled composite
    variants: int = 1  # how many images this one request makes (each its own embed and task)
    references: tuple[Embed, ...] = ()  # the user's finished images to draw on (reference_embed_ids)
    again_of: Embed | None = None  # a regenerate: the image made once more (its lineage parent)

    @property
    def version_kind(self) -> str:
        if self.again_of is not None:
            return Embed.VersionKind.REGENERATED
        return Embed.VersionKind.EDITED if self.kind == Task.Kind.EDIT else Embed.VersionKind.GENERATED


MAX_VARIANTS = 4
_SEED_SPACE = 2**31


def variant_seeds(seed: int | None, count: int) -> list[tuple[int | None, bool]]:
    """Each variant's (seed, pinned). A chosen seed makes seed, seed+1, … (pinned: the user can
    make the very same set again); without one a single image keeps today's behaviour (the
    provider picks), while several draw fresh seeds, so that no two variants are the same."""
    if seed is not None:
        return [((seed + index) % _SEED_SPACE, True) for index in range(count)]
    if count == 1:
        return [(None, True)]
    return [(secrets.randbelow(_SEED_SPACE), False) for _ in range(count)]


def variant_key(idempotency_key: str | None, index: int) -> str | None:
    """The stored Idempotency-Key of a request's ``index``-th variant: the first keeps the key's
    digest as it always has, the others a suffix of it (the unique constraint holds one task a
    key), so a replay finds the whole set again."""
    if idempotency_key is None or index == 0:
        return idempotency_key
    return f"{idempotency_key}:{index}"


def check_reference_count(spec: ModelSpec, count: int, *, editing: bool) -> None:
    """400 when ``spec`` takes no reference images, or fewer than ``count`` (the providers'
    documented limits: ``ModelSpec.max_input_images``)."""
    if not count:
        return
    limit = spec.max_references(editing=editing)
    if limit == 0:
        raise ApiError(
            "invalid_value",
            f"The model {spec.id} does not take reference images"
            + (" when editing." if spec.max_input_images else "."),
            field="reference_embed_ids",
        )
    if count > limit:
        raise ApiError(
            "invalid_value",
            f"The model {spec.id} takes at most {limit} reference images"
            + (" with the image being edited." if editing else "."),
            field="reference_embed_ids",
        )


def queue_new_task(
    user: AbstractBaseUser,
    embed: Embed,
    *,
    idempotency_key: str | None,
    fingerprint: str,
    **fields: object,
) -> Task:
    """Insert the task for a freshly sealed embed, queue its id on commit and tell the owner's
    tabs: the one insert every kind of task (generate, edit, reverse search, analysis) goes
    through. Call inside ``user_quota_lock`` after ``check_task_limits``. The fingerprint is
    kept only with an Idempotency-Key (it is what a replay is compared with)."""
    return lifecycle.create(
        owner=user,
        embed=embed,
        idempotency_key=idempotency_key or None,
        request_fingerprint=fingerprint if idempotency_key else "",
        **fields,
    )


def estimate_seconds(spec: ModelSpec) -> float:
    """A running average of this model's recent durations, or its typical time before any."""
    recent = (
        Task.objects.filter(model=spec.id, status=Task.Status.COMPLETED, started_at__isnull=False)
        .order_by("-finished_at")
        .values_list("id", flat=True)[:20]
    )
    average = (
        Task.objects.filter(id__in=list(recent))
        .annotate(duration=F("finished_at") - F("started_at"))
        .aggregate(avg=Avg("duration"))["avg"]
    )
    return round(average.total_seconds(), 1) if average else spec.typical_seconds


def request_fingerprint(*parts: object) -> str:
    """A keyed hash naming a request's content, to tell a true repeat from a reused key."""
    canonical = json.dumps([str(part) if part is not None else None for part in parts])
    return salted_hmac(_FINGERPRINT_SALT, canonical, algorithm="sha256").hexdigest()


def idempotency_digest(idempotency_key: str | None) -> str | None:
    """What is stored of an Idempotency-Key: a keyed hash (a client may put anything in a key,
    and the database keeps no client secret in plaintext)."""
    if not idempotency_key:
        return None
    return salted_hmac(IDEMPOTENCY_KEY_SALT, idempotency_key, algorithm="sha256").hexdigest()


def _replay(user: AbstractBaseUser, idempotency_key: str | None, fingerprint: str) -> Task | None:
    """The task this Idempotency-Key already made within 24 h, if any (the first, for a request
    that made several)."""
    tasks = _replay_all(user, idempotency_key, fingerprint)
    return tasks[0] if tasks else None


def _replay_all(user: AbstractBaseUser, idempotency_key: str | None, fingerprint: str) -> list[Task] | None:
    """The tasks this Idempotency-Key already made within 24 h (a request's variants, in order),
    if any (409-style 422 when the key came with a different request)."""
    if not idempotency_key:
        return None
    keys = [variant_key(idempotency_key, index) for index in range(MAX_VARIANTS)]
    found = {
        task.idempotency_key: task
        for task in Task.objects.select_related("embed").filter(owner=user, idempotency_key__in=keys)
    }
    first = found.get(idempotency_key)
    if first is None:
        return None
    tasks = [found[key] for key in keys if key in found]
    if timezone.now() - first.created_at > IDEMPOTENCY_WINDOW:
        # Expired: free the key (and its variants' keys) so it can name a new request.
        Task.objects.filter(pk__in=[task.pk for task in tasks]).update(idempotency_key=None)
        return None
    if first.request_fingerprint != fingerprint:
        raise ApiError(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request in the last 24 hours.",
            field="Idempotency-Key",
            status_code=422,
        )
    return tasks


def check_create_generation(
    user: AbstractBaseUser,
    params: GenerationParams,
    *,
    idempotency_key: str | None = None,
    webhook_url: str = "",
) -> tuple[Task, bool]:
    """``check_create_generations`` for a caller that shows one task: (the first task, created)."""
    tasks, created = check_create_generations(
        user, params, idempotency_key=idempotency_key, webhook_url=webhook_url
    )
    return tasks[0], created


def check_create_generations(
    user: AbstractBaseUser,
    params: GenerationParams,
    *,
    idempotency_key: str | None = None,
    webhook_url: str = "",
) -> tuple[list[Task], bool]:
    """Create the embed placeholder and the task of each of the request's ``variants`` (each
    with its own seed, see ``variant_seeds``), queue them; returns (tasks, created).

    All of them or none: the limits count every variant, under the user's quota lock, and the
    inserts are one transaction. A repeat with the same ``Idempotency-Key`` within 24 h returns
    the first request's tasks unchanged.
    """
    idempotency_key = idempotency_digest(idempotency_key)
    fingerprint = request_fingerprint(
        params.kind,
        params.prompt,
        params.aspect_ratio,
        params.model.id,
        params.seed,
        params.image_size,
        params.source.id if params.source else None,
        hashlib.sha256(params.mask).hexdigest() if params.mask else None,
        webhook_url,
        # Only when used, so that a key first used before these existed still matches.
        *([f"variants={params.variants}"] if params.variants != 1 else []),
        *([f"references={','.join(str(r.id) for r in params.references)}"] if params.references else []),
    )
    replayed = _replay_all(user, idempotency_key, fingerprint)
    if replayed is not None:
        return replayed, False
    spec = params.model
    status = model_status(spec)  # unconfigured, or gone at the provider: refused before any cost
    if not status.available:
        raise ApiError(
            "provider_unavailable", f"The model {spec.id} is not available: {status.reason}", field="model"
        )
    if params.kind == Task.Kind.EDIT and (reason := edit_unavailable_reason(spec.provider)):
        raise ApiError("provider_unavailable", f"{spec.id} cannot edit images here: {reason}", field="model")
    if webhook_url:
        try:
            check_webhook_url(webhook_url)
        except WebhookRefused as exc:
            raise ApiError("invalid_value", str(exc), field="webhook_url") from exc
    if params.kind == Task.Kind.EDIT and not spec.supports_edit:
        raise ApiError("invalid_value", f"The model {spec.id} cannot edit images.", field="model")
    if not 1 <= params.variants <= MAX_VARIANTS:
        raise ApiError("invalid_value", f"n must be between 1 and {MAX_VARIANTS}.", field="n")
    check_reference_count(spec, len(params.references), editing=params.kind == Task.Kind.EDIT)

    requested_at = timezone.now().isoformat()
    contents = [
        ImageContent(
            source="edit" if params.kind == Task.Kind.EDIT else "generated",
            prompt=params.prompt,
            model=spec.id,
            model_label=spec.label,
            aspect_ratio=params.aspect_ratio,
            image_size=params.image_size,
            seed=seed,
            # The runner records the seed it used; whether the user chose it is only known here.
            seed_pinned=seed is not None and pinned and params.seed_pinned,
            # Made from the user's own images: labelled a composite (IPTC, C2PA ingredients).
            composite=params.composite or bool(params.references),
            reference_embed_ids=tuple(str(r.id) for r in params.references) or None,
            derived_from=str(params.source.id) if params.source else None,
            requested_at=requested_at,
        )
        for seed, pinned in variant_seeds(params.seed, params.variants)
    ]
    estimate = estimate_seconds(spec)
    try:
        with user_quota_lock(user):  # the limits are checked and the tasks inserted as one step
            check_task_limits(user, adding=len(contents))
            tasks = []
            for index, content in enumerate(contents):
                opened = sealing.new_embed(
                    user,
                    content=content,
                    derived_from=params.source,
                    version_kind=params.version_kind,
                    parent=params.again_of or params.source,
                )
                opened.embed.save()
                if params.mask is not None:
                    opened.store_file("mask", params.mask)
                tasks.append(
                    queue_new_task(
                        user,
                        opened.embed,
                        kind=params.kind,
                        model=spec.id,
                        idempotency_key=variant_key(idempotency_key, index),
                        fingerprint=fingerprint,
                        webhook_url=webhook_url,
                        estimated_seconds=estimate,
                        cost_usd=spec.cost_usd,
                    )
                )
    except IntegrityError:
        # Two requests with one Idempotency-Key raced; the other one won.
        replayed = _replay_all(user, idempotency_key, fingerprint)
        if replayed is None:
            raise
        return replayed, False
    for task in tasks:
        logger.info("generation.task.created task=%s model=%s kind=%s", task.id, spec.id, task.kind)
    return tasks, True


def completed_files(task: Task) -> Files | None:
    """A completed task's files (as GET /v1/tasks/{id} lists them), None before that."""
    if task.status == Task.Status.COMPLETED and task.embed.status == Embed.Status.FINISHED:
        return sealing.open_embed(task.embed).content().files
    return None


def do_cancel_task(task: Task) -> Task:
    """Cancel a task: a queued one ends at once; a running one is flagged and the worker stops it
    at the provider (fal cancel URL) and ends it ``cancelled`` without storing anything."""
    return lifecycle.cancel(task)


REVERSE_SEARCH_SECONDS = 8.0


def check_create_reverse_search(
    user: AbstractBaseUser,
    *,
    source: Embed | None = None,
    upload: tuple[bytes, str] | None = None,
    idempotency_key: str | None = None,
) -> tuple[Task, bool]:
    """Create a results embed (type image_search_results) and a reverse-search task for it.

    The image is one of the user's embeds (``source``) or an ``upload`` (bytes, file name), which
    becomes an embed only once the request has passed every check."""
    idempotency_key = idempotency_digest(idempotency_key)
    fingerprint = request_fingerprint(
        Task.Kind.REVERSE_SEARCH,
        source.id if source else None,
        hashlib.sha256(upload[0]).hexdigest() if upload else None,
    )
    replayed = _replay(user, idempotency_key, fingerprint)
    if replayed is not None:
        return replayed, False
    if not is_available():
        raise ApiError(
            "provider_unavailable",
            f"Reverse image search is not available on this server: {search_unavailable_reason()}",
        )
    uploaded = source is None
    if uploaded:
        check_task_limits(user)  # refused before the upload costs a decode (checked again below)
        data, file_name = upload
        source = do_create_upload_embed(user, data, file_name=file_name)
    engine = conf().SERPAPI_ENGINE
    content = SearchResultsContent(
        source_embed_id=str(source.id), engine=engine, requested_at=timezone.now().isoformat()
    )
    try:
        task = _create_reverse_search_task(user, source, content, idempotency_key, fingerprint)
    except ApiError:
        if uploaded:  # a parallel request took the last slot: the upload must not stay behind
            do_delete_embed(source)  # after the rollback: its row is committed, its files stored
        raise
    logger.info("generation.task.created task=%s kind=reverse_search", task.id)
    return task, True


def _create_reverse_search_task(
    user: AbstractBaseUser,
    source: Embed,
    content: SearchResultsContent,
    idempotency_key: str | None,
    fingerprint: str,
) -> Task:
    with user_quota_lock(user):
        check_task_limits(user)
        opened = sealing.new_embed(user, content=content, derived_from=source)
        opened.embed.save()
        task = queue_new_task(
            user,
            opened.embed,
            kind=Task.Kind.REVERSE_SEARCH,
            model=f"serpapi/{content.engine}",
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            estimated_seconds=REVERSE_SEARCH_SECONDS,
        )
    return task


REPORT_REASONS = ("artifacts", "wrong_content", "offensive", "other")


def request_again(user: AbstractBaseUser, embed: Embed) -> GenerationParams:
    """The request that made ``embed``, to run once more: a generation with its prompt, or an edit
    of the same source with the same prompt and mask. Crops and drawings were not made by a
    provider, so there is nothing to run again."""
    opened = sealing.open_embed(embed)
    content = opened.content()
    kinds = {"generated": Task.Kind.GENERATE, "edit": Task.Kind.EDIT}
    kind = kinds.get(content.source) if isinstance(content, ImageContent) else None
    if kind is None or not content.prompt:
        raise ApiError(
            "invalid_value", "Only generated or AI-edited images can be generated again.", field="regenerate"
        )
    source = mask = None
    if kind == Task.Kind.EDIT:
        source = Embed.objects.filter(pk=content.derived_from, owner=user).first()
        if source is None or source.status != Embed.Status.FINISHED:
            raise ApiError(
                "invalid_value", "The image this edit was made from no longer exists.", field="regenerate"
            )
        try:
            mask = opened.load_file("mask")
        except ObjectMissing:  # an edit without a mask, or made before masks were kept
            mask = None
    references = _stored_references(user, content.reference_embed_ids or ())
    # Again means different: a fresh seed, unless the user pinned one.
    pinned = content.seed_pinned and content.seed is not None
    seed = content.seed if pinned else secrets.randbelow(2**31)
    return GenerationParams(
        seed=seed,
        seed_pinned=pinned,
        prompt=content.prompt,
        aspect_ratio=content.aspect_ratio or "1:1",
        model=find_model(content.model or "") or default_model(),
        image_size=content.image_size or "1K",
        kind=kind,
        source=source,
        mask=mask,
        # A composite of references is one again because of them, not of the request.
        composite=content.composite and not references,
        references=references,
        again_of=embed,
    )


def _stored_references(user: AbstractBaseUser, ids: tuple[str, ...]) -> tuple[Embed, ...]:
    """The references an image was made from, to make it again from the same ones."""
    found = {
        str(e.id): e for e in Embed.objects.filter(pk__in=list(ids), owner=user, status=Embed.Status.FINISHED)
    }
    if len(found) != len(ids):
        raise ApiError(
            "invalid_value", "A reference image this one was made from no longer exists.", field="regenerate"
        )
    return tuple(found[embed_id] for embed_id in ids)


def do_report_image(user: AbstractBaseUser, embed: Embed, *, reason: str, regenerate: bool) -> Task | None:
    """Record a problem report; optionally make the image again from the same request."""
    params = request_again(user, embed) if regenerate else None
    with transaction.atomic():  # a refused regeneration (rate limit…) records no report either
        report = ImageReport.objects.create(owner=user, embed=embed, reason=reason)
        if params is None:
            return None
        task, _ = check_create_generation(user, params)
        ImageReport.objects.filter(pk=report.pk).update(regenerated_task=task)
    return task
