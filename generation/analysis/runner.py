"""The analysis stage of the shared task runner (``pipeline.runner._execute`` calls ``analyze``).

It loads the source image (pixels only: ``clean_image_bytes`` drops every byte of metadata),
prepares what the model is shown (``region.prepare_images``), asks the analyzer, and pushes the
answer so far to the owner's tabs as it grows (``analysis_delta`` events, at most a few a second).
The final answer is kept only in the embed's encrypted content; the runner then ends the task as
for any other kind (cancel, retries, failures, webhooks and clean-up are shared).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from django.utils import timezone

from core.realtime import send_to_user
from embeds import imaging, sealing
from embeds.content import AnalysisContent, ImageContent
from embeds.models import Embed

from ..models import Task
from ..providers.base import ErrorCode, ProviderError
from .base import AnalysisRequest
from .models import find_analysis_model, get_analyzer
from .region import prepare_images

logger = logging.getLogger(__name__)

ANALYSIS_DELTA = "analysis_delta"
_DELTA_INTERVAL = 0.25


class _DeltaPusher:
    """Sends the answer so far to the owner's tabs, coalesced to one event per interval. Each
    event carries the whole text so far, so a tab that missed one (or a retried attempt that
    starts over) just shows the latest."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.text = ""
        self.sent = ""
        self.sequence = 0
        self._last = 0.0

    def __call__(self, text: str) -> None:
        self.text = text
        if time.monotonic() - self._last >= _DELTA_INTERVAL:
            self.flush()

    def flush(self) -> None:
        if self.text == self.sent:
            return
        self.sequence += 1
        self.sent = self.text
        self._last = time.monotonic()
        send_to_user(
            self.task.owner_id,
            ANALYSIS_DELTA,
            {
                "task_id": str(self.task.id),
                "embed_id": str(self.task.embed_id),
                "sequence": self.sequence,
                "text": self.text,
            },
        )


def source_facts(content: ImageContent) -> dict:
    """What the analyzer may say about where the image came from (no prompt, no file name)."""
    label = content.ai_label
    return {
        "source": content.source,
        "ai_made": content.ai_made,
        "ai_model": (label and label.model_name) or (content.model if content.ai_made else None),
        "composite": bool((label and label.composite) or content.composite),
    }


def analyze(
    task: Task,
    opened: sealing.OpenEmbed,
    content: AnalysisContent,
    report: Callable[..., None],
    is_cancelled: Callable[[], bool],
) -> tuple[AnalysisContent, dict]:
    """Answer the question in ``content``; returns the content with the answer (the caller seals
    it) and the provider's usage for the runner to record (this stage writes no row)."""
    spec = find_analysis_model(task.model)
    if spec is None:
        raise ProviderError(ErrorCode.INVALID_REQUEST, f"The model {task.model} is no longer configured.")
    source = Embed.objects.filter(pk=content.source_embed_id, owner_id=task.owner_id).first()
    if source is None or source.status != Embed.Status.FINISHED:
        raise ProviderError(ErrorCode.INVALID_REQUEST, "The image the question is about no longer exists.")
    report(stage="provider", progress=0, force=True)
    source_opened = sealing.open_embed(source)
    original = imaging.clean_image_bytes(source_opened.load_file("original"))
    region = content.region
    request = AnalysisRequest(
        question=content.question,
        images=prepare_images(original, region),
        provider_model=spec.provider_model,
        original=original,
        region=region,
        facts=source_facts(source_opened.image()),
        timeout=spec.timeout_seconds,
    )
    push = _DeltaPusher(task)
    result = get_analyzer(spec.provider).analyze(request, on_text=push, is_cancelled=is_cancelled)
    push.text = result.answer
    push.flush()
    content = replace(
        content,
        answer=result.answer,
        truncated=result.finish_reason == "MAX_TOKENS",
        model_version=result.model_version,
        measurements=result.measurements or None,
        analyzed_at=timezone.now().isoformat(),
    )
    logger.info("generation.analysis.answered task=%s chars=%s", task.id, len(result.answer))
    return content, result.usage or {}
