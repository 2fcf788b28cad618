"""The model registry: public model names -> provider, capabilities, cost and timeout.

Public names are the full ids (``google/gemini-3-pro-image``) and short aliases (``high-end``,
``draft``, ``offline``). A provider without its key is listed as unavailable.

``google/gemini-3-pro-image-preview`` (the spec's id) was shut down by Google on 2026-06-25: it
stays accepted as an alias of the GA model, so old requests, tasks and regenerations keep
working. An embed records the model id it was made with: old embeds keep the preview name in
their content, new ones name the model really called.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import conf
from .providers.base import Provider

ASPECT_RATIOS: tuple[str, ...] = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
IMAGE_SIZES: tuple[str, ...] = ("1K", "2K", "4K")


@dataclass(frozen=True)
class ModelSpec:
    id: str
    aliases: tuple[str, ...]
    label: str
    provider: str  # "offline" | "gemini" | "fal"
    provider_model: str
    tier: str  # "offline" | "draft" | "high-end"
    image_sizes: tuple[str, ...]
    supports_edit: bool
    cost_usd: Decimal
    timeout_seconds: float
    typical_seconds: float  # ETA before we have measured durations
    # How many images one call may take in (references, plus the image being edited), as the
    # provider documents it; 0: the model takes no reference images.
    max_input_images: int = 0

    def max_references(self, *, editing: bool) -> int:
        """How many ``reference_embed_ids`` a request may name (an edit's source takes a slot)."""
        return max(0, self.max_input_images - 1) if editing else self.max_input_images

    @property
    def aspect_ratios(self) -> tuple[str, ...]:
        return ASPECT_RATIOS


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="local/procedural",
        aliases=("offline", "local"),
        label="Offline procedural generator",
        provider="offline",
        provider_model="procedural-1",
        tier="offline",
        image_sizes=("1K",),
        supports_edit=True,
        cost_usd=Decimal("0"),
        timeout_seconds=120,
        typical_seconds=1.5,
        max_input_images=4,
    ),
    ModelSpec(
        id="google/gemini-3-pro-image",
        aliases=(
            "high-end",
            "gemini-3-pro-image",
            "google/gemini-3-pro-image-preview",
            "gemini-3-pro-image-preview",
        ),
        label="Gemini 3 Pro Image",
        provider="gemini",
        provider_model="gemini-3-pro-image",
        tier="high-end",
        image_sizes=IMAGE_SIZES,
        supports_edit=True,
        cost_usd=Decimal("0.134"),  # $120 per 1M image tokens: 1120 tokens at 1K/2K (4K costs $0.24)
        timeout_seconds=600,
        typical_seconds=25,
        max_input_images=14,  # Gemini 3 Pro Image: up to 14 reference images
    ),
    ModelSpec(
        id="google/gemini-3.1-flash-image",
        aliases=("gemini-3.1-flash-image",),
        label="Gemini 3.1 Flash Image",
        provider="gemini",
        provider_model="gemini-3.1-flash-image",
        tier="high-end",
        image_sizes=IMAGE_SIZES,
        supports_edit=True,
        cost_usd=Decimal("0.067"),  # per 1K image (third-party cost maps; confirm on Google's page)
        timeout_seconds=600,
        typical_seconds=12,
        max_input_images=14,
    ),
    ModelSpec(
        id="fal-ai/flux-2/klein/9b/base",
        aliases=("draft", "flux-2-klein"),
        label="FLUX.2 klein 9B (draft)",
        provider="fal",
        provider_model="fal-ai/flux-2/klein/9b/base",
        tier="draft",
        image_sizes=("1K",),
        supports_edit=True,
        cost_usd=Decimal("0.011"),
        timeout_seconds=600,
        # The /base endpoint runs 28 inference steps by default (the distilled one runs 4): about
        # 10 s plus queueing; estimates then follow observed durations (actions.estimate_seconds).
        typical_seconds=12,
        max_input_images=4,  # the klein edit endpoint's image_urls: up to 4
    ),
)


def find_model(name: str) -> ModelSpec | None:
    """The spec for a public model id or alias, or None."""
    for spec in MODELS:
        if name == spec.id or name in spec.aliases:
            return spec
    return None


def default_model() -> ModelSpec:
    spec = find_model(conf().DEFAULT_MODEL)
    if spec is None:
        raise LookupError(f"IMAGES_DEFAULT_MODEL {conf().DEFAULT_MODEL!r} is not a known model")
    return spec


@cache
def get_provider(provider: str) -> Provider:
    """The configured provider instance for a provider name (built once per settings); a 404 for
    its model marks the model unavailable at once (``availability.mark_missing``)."""
    from .availability import mark_missing

    instance = _build_provider(provider)
    instance.on_model_missing = mark_missing
    return instance


def _build_provider(provider: str) -> Provider:
    settings = conf()
    if provider == "offline":
        from .providers.offline import OfflineProvider

        return OfflineProvider(prompt_hooks=settings.TEST_PROMPT_HOOKS)
    if provider == "gemini":
        from .providers.gemini import GeminiProvider

        return GeminiProvider(
            api_key=settings.GOOGLE_API_KEY,
            base_url=settings.GEMINI_BASE_URL,
            api_version=settings.GEMINI_API_VERSION,
            timeout=settings.GEMINI_TIMEOUT,
        )
    if provider == "fal":
        from .providers.fal import FalProvider

        return FalProvider(
            api_key=settings.FAL_KEY,
            queue_base_url=settings.FAL_QUEUE_BASE_URL,
            run_base_url=settings.FAL_RUN_BASE_URL,
            timeout=settings.FAL_TIMEOUT,
            poll_interval=settings.FAL_POLL_INTERVAL,
            max_download_bytes=settings.PROVIDER_DOWNLOAD_MAX_BYTES,
        )
    raise LookupError(f"unknown provider {provider!r}")


def provider_for(spec: ModelSpec) -> Provider:
    return get_provider(spec.provider)


@receiver(setting_changed)
def _reset(*, setting: str, **_: object) -> None:
    if setting == "GENERATION":
        get_provider.cache_clear()
