"""Create an analysis task: a question about one of the user's images (or an uploaded file), and
optionally about a region drawn on it.

It is a task like a generation (same model, lifecycle, cancel, cost, ETA, Idempotency-Key, per-user
limits, webhooks): this only validates what only the server can know, then writes the result embed
(type ``image_analysis``, content encrypted: question, region, later the answer) and the task in one
transaction and queues it after commit. The runner (``analysis.runner``) does the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError
from django.utils import timezone

from core.errors import ApiError
from core.quota import user_quota_lock
from embeds import imaging, sealing
from embeds.access import access_finished_image
from embeds.actions import do_create_upload_embed, do_delete_embed
from embeds.content import AnalysisContent
from embeds.models import Embed

from ..actions import (
    _replay,
    estimate_seconds,
    idempotency_digest,
    queue_new_task,
    request_fingerprint,
)
from ..availability import model_status
from ..limits import check_task_limits
from ..models import Task
from ..webhooks import WebhookRefused, check_webhook_url
from .models import AnalysisModelSpec, default_analysis_model, find_analysis_model
from .region import RegionError, bounding_box, parse_region

logger = logging.getLogger(__name__)

QUESTION_MAX_LENGTH = 4000


@dataclass(frozen=True)
class AnalysisParams:
    question: str
    model: AnalysisModelSpec
    source: Embed | None = None  # one of the user's finished images…
    upload: tuple[bytes, str] | None = None  # …or an uploaded file (bytes, name)
    region: object = None  # as sent: {"shapes": [...]} in the image's original pixels


def clean_question(value: object) -> str:
    """The question, trimmed: 1 to 4000 characters (400 otherwise)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ApiError("missing_field", "Ask a question about the image.", field="question")
    if not isinstance(value, str):
        raise ApiError("invalid_value", "question must be text.", field="question")
    question = value.strip()
    if len(question) > QUESTION_MAX_LENGTH:
        raise ApiError(
            "invalid_value",
            f"The question is longer than {QUESTION_MAX_LENGTH} characters.",
            field="question",
        )
    return question


def _source_size(params: AnalysisParams) -> tuple[int, int]:
    if params.source is not None:
        original = sealing.open_embed(params.source).image().original
        return (original.width, original.height) if original else (0, 0)
    try:
        return imaging.image_size(params.upload[0])
    except imaging.InvalidImage as exc:
        raise ApiError(exc.code, exc.message, field="file") from exc


def _region(params: AnalysisParams, size: tuple[int, int]) -> dict | None:
    try:
        return parse_region(params.region, size)
    except RegionError as exc:
        raise ApiError("invalid_value", exc.message, field=exc.field) from exc


def check_create_analysis(
    user: AbstractBaseUser,
    params: AnalysisParams,
    *,
    idempotency_key: str | None = None,
    webhook_url: str = "",
) -> tuple[Task, bool]:
    """Validate, then create the analysis embed and task and queue it; returns (task, created)."""
    idempotency_key = idempotency_digest(idempotency_key)
    spec = params.model
    fingerprint = request_fingerprint(
        Task.Kind.ANALYZE,
        params.question,
        spec.id,
        params.source.id if params.source else None,
        hashlib.sha256(params.upload[0]).hexdigest() if params.upload else None,
        json.dumps(params.region, sort_keys=True),
        webhook_url,
    )
    replayed = _replay(user, idempotency_key, fingerprint)
    if replayed is not None:
        return replayed, False
    status = model_status(spec)
    if not status.available:
        raise ApiError(
            "provider_unavailable", f"The model {spec.id} is not available: {status.reason}", field="model"
        )
    if webhook_url:
        try:
            check_webhook_url(webhook_url)
        except WebhookRefused as exc:
            raise ApiError("invalid_value", str(exc), field="webhook_url") from exc
    size = _source_size(params)
    region = _region(params, size)
    check_task_limits(user)  # refused before an upload costs a decode (checked again under the lock)

    source = params.source
    uploaded = source is None
    if uploaded:
        data, file_name = params.upload
        source = do_create_upload_embed(user, data, file_name=file_name)
    content = AnalysisContent(
        question=params.question,
        region=region,
        region_box=bounding_box(region, size).as_dict() if region else None,
        model=spec.id,
        model_label=spec.label,
        source_embed_id=str(source.id),
        requested_at=timezone.now().isoformat(),
    )
    try:
        with user_quota_lock(user):  # the limits are checked and the task inserted as one step
            check_task_limits(user)
            opened = sealing.new_embed(user, content=content, derived_from=source)
            opened.embed.save()
            task = queue_new_task(
                user,
                opened.embed,
                kind=Task.Kind.ANALYZE,
                model=spec.id,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                webhook_url=webhook_url,
                estimated_seconds=estimate_seconds(spec),
                cost_usd=spec.cost_usd,
            )
    except ApiError:
        if uploaded:  # a parallel request took the last slot: the upload must not stay behind
            do_delete_embed(source)  # after the rollback: its row is committed, its files stored
        raise
    except IntegrityError:
        replayed = _replay(user, idempotency_key, fingerprint)
        if replayed is None:
            raise
        return replayed, False
    logger.info("generation.task.created task=%s model=%s kind=analyze", task.id, spec.id)
    return task, True


ANALYZE_FIELDS = ("embed_id", "question", "region", "model")


def parse_analysis_request(
    user: AbstractBaseUser,
    data: object,
    *,
    upload: tuple[bytes, str] | None = None,
    extra_fields: tuple[str, ...] = (),
) -> AnalysisParams:
    """One reading of an analyze request for REST (JSON or multipart), the socket and the chat:
    unknown fields, a missing or over-long question, an unknown model and someone else's image
    (404) are refused here; the region is checked against the image in ``check_create_analysis``."""
    if not isinstance(data, dict):
        raise ApiError("invalid_json", "The request body must be a JSON object.")
    unknown = sorted(set(data) - set(ANALYZE_FIELDS) - set(extra_fields) - ({"file"} if upload else set()))
    if unknown:
        raise ApiError("unknown_field", f"Unknown field {unknown[0]!r}.", field=unknown[0])
    question = clean_question(data.get("question"))
    name = data.get("model")
    if name not in (None, ""):
        spec = find_analysis_model(str(name)) if isinstance(name, str) else None
        if spec is None:
            raise ApiError(
                "invalid_choice",
                f"Unknown analysis model {name!r}; see GET /v1/apps/images/analyze/models.",
                field="model",
            )
    else:
        spec = default_analysis_model()
    region = data.get("region")
    if isinstance(region, str):  # multipart: the region as a JSON string
        try:
            region = json.loads(region) if region.strip() else None
        except ValueError:
            raise ApiError(
                "invalid_value", 'region must be JSON: {"shapes": [...]}.', field="region"
            ) from None
    embed_id = data.get("embed_id")
    if upload is not None:
        if embed_id:
            raise ApiError("invalid_value", "Send either embed_id or a file, not both.", field="embed_id")
        return AnalysisParams(question=question, model=spec, upload=upload, region=region)
    if not embed_id:
        raise ApiError(
            "missing_field", "Give the embed_id of one of your images, or upload a file.", field="embed_id"
        )
    source = access_finished_image(user, embed_id, field="embed_id")
    return AnalysisParams(question=question, model=spec, source=source, region=region)
