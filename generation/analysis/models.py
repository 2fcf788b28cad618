"""The models that answer questions about images, apart from the image generators (they take
other requests and are listed under ``analysis`` in ``GET /v1/apps/images/models``).

``google/gemini-3.5-flash`` is a GA multimodal text model (released 2026-05-19, no shutdown date
announced on Google's deprecations page as of 2026-12); ``gemini-2.5-flash`` was shut down on
2026-12-01 and the ``gemini-3-flash-preview`` id is a preview, so neither is used.
``google/gemini-3.8-flash`` (GA 2026-09-02) is offered too. The offline inspector needs no key.

A spec has the attributes the shared availability and ETA helpers read (``id``, ``provider``,
``provider_model``, ``supports_edit``, ``typical_seconds``), so ``availability`` (probes at
start-up and every ``PROVIDER_CHECK_INTERVAL_SECONDS``, ``/readyz`` warnings, ``check_providers``,
a 404 at call time) and ``actions.estimate_seconds`` serve both kinds of model.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import ClassVar

from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import conf


@dataclass(frozen=True)
class AnalysisModelSpec:
    id: str
    aliases: tuple[str, ...]
    label: str
    provider: str  # "offline" | "gemini"
    provider_model: str
    cost_usd: Decimal  # an estimate per question; the task's usage keeps the real token counts
    timeout_seconds: float
    typical_seconds: float
    vision: bool  # False: answers only from what it can measure
    supports_edit: ClassVar[bool] = False  # answers questions, never edits (read by availability)


ANALYSIS_MODELS: tuple[AnalysisModelSpec, ...] = (
    AnalysisModelSpec(
        id="local/inspector",
        aliases=("offline", "local"),
        label="Offline image inspector (no vision model)",
        provider="offline",
        provider_model="inspector-1",
        cost_usd=Decimal("0"),
        timeout_seconds=60,
        typical_seconds=1.0,
        vision=False,
    ),
    AnalysisModelSpec(
        id="google/gemini-3.5-flash",
        aliases=("vision", "gemini-3.5-flash"),
        label="Gemini 3.5 Flash",
        provider="gemini",
        provider_model="gemini-3.5-flash",
        cost_usd=Decimal("0.003"),
        timeout_seconds=120,
        typical_seconds=6,
        vision=True,
    ),
    AnalysisModelSpec(
        id="google/gemini-3.8-flash",
        aliases=("gemini-3.8-flash",),
        label="Gemini 3.8 Flash",
        provider="gemini",
        provider_model="gemini-3.8-flash",
        cost_usd=Decimal("0.004"),
        timeout_seconds=120,
        typical_seconds=6,
        vision=True,
    ),
)


def find_analysis_model(name: str) -> AnalysisModelSpec | None:
    for spec in ANALYSIS_MODELS:
        if name == spec.id or name in spec.aliases:
            return spec
    return None


def default_analysis_model() -> AnalysisModelSpec:
    """IMAGES_ANALYSIS_MODEL when set; else Gemini when a Google key is configured, else offline."""
    configured = conf().ANALYSIS_DEFAULT_MODEL
    if configured:
        spec = find_analysis_model(configured)
        if spec is None:
            raise LookupError(f"IMAGES_ANALYSIS_MODEL {configured!r} is not a known analysis model")
        return spec
    return ANALYSIS_MODELS[1] if conf().GOOGLE_API_KEY else ANALYSIS_MODELS[0]


def analysis_model_entry(spec: AnalysisModelSpec) -> dict:
    """One analysis model as the models listing shows it, with whether it works and why not."""
    from ..availability import model_status

    status = model_status(spec)
    return {
        "id": spec.id,
        "aliases": list(spec.aliases),
        "label": spec.label,
        "provider": spec.provider,
        "vision": spec.vision,
        "available": status.available,
        "unavailable_reason": status.reason,
        "cost_usd": str(spec.cost_usd),
        "timeout_seconds": spec.timeout_seconds,
    }


@cache
def get_analyzer(provider: str):
    """The configured analyzer for a provider name (built once per settings)."""
    settings = conf()
    if provider == "offline":
        from .offline import OfflineAnalyzer

        return OfflineAnalyzer()
    if provider == "gemini":
        from ..availability import mark_missing
        from ..providers.gemini_text import GeminiAnalyzer

        analyzer = GeminiAnalyzer(
            api_key=settings.GOOGLE_API_KEY,
            base_url=settings.GEMINI_BASE_URL,
            api_version=settings.GEMINI_API_VERSION,
            timeout=settings.GEMINI_TIMEOUT,
        )
        analyzer.on_model_missing = mark_missing
        return analyzer
    raise LookupError(f"unknown analysis provider {provider!r}")


@receiver(setting_changed)
def _reset(*, setting: str, **_: object) -> None:
    if setting == "GENERATION":
        get_analyzer.cache_clear()
