"""The analyzer contract: what the offline inspector and the Gemini text provider take and give.

Analyzers are plain classes (no Django), like the image providers. They stream: ``on_text`` gets
the answer so far each time it grows, so the pipeline can push it to the user's tabs. Failures
are ``ProviderError``s with the public codes of ``providers.base``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .region import PreparedImages


@dataclass(frozen=True)
class AnalysisRequest:
    question: str
    images: PreparedImages
    provider_model: str
    # The clean original (pixels only): the offline inspector measures it; it is never sent out.
    original: bytes = b""
    region: dict | None = None  # the validated shapes, in original pixels
    facts: dict = field(default_factory=dict)  # what we know of the source (provenance, AI label)
    timeout: float = 120.0


@dataclass(frozen=True)
class AnalysisResult:
    answer: str
    model_version: str | None = None
    finish_reason: str | None = None  # "STOP", "MAX_TOKENS" (answer cut short)…
    usage: dict = field(default_factory=dict)  # token counts only: stored in plaintext on the task
    measurements: dict = field(default_factory=dict)  # about the image: kept in the encrypted content


class Analyzer(Protocol):
    def analyze(
        self,
        request: AnalysisRequest,
        *,
        on_text: Callable[[str], None],
        is_cancelled: Callable[[], bool],
    ) -> AnalysisResult: ...
