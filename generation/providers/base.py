"""The provider contract: what every image generator (offline, Gemini, fal) implements.

Providers are plain classes with no Django imports beyond their settings object, so they can be
exercised against local protocol servers. They report progress through a callback and poll a
cancellation check; they raise ``ProviderError`` with one of the public error codes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class ErrorCode:
    """The public error codes a task can end with."""

    INVALID_REQUEST = "invalid_request"
    CONTENT_BLOCKED = "content_blocked"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_TIMEOUT = "provider_timeout"
    QUOTA_EXCEEDED = "quota_exceeded"
    CANCELLED = "cancelled"
    INTERNAL = "internal"


class ProviderError(Exception):
    """A provider failure. ``retryable`` errors are retried with backoff by the worker;
    ``retry_after`` (seconds) overrides the backoff when the provider said how long to wait.

    ``message`` is ours and safe to store in plaintext (task rows, webhooks, admin). ``detail`` is
    the provider's own words (a model's text reply can echo the prompt): the pipeline keeps it
    only inside the embed's encrypted content."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.detail = detail


class Cancelled(ProviderError):
    def __init__(self, message: str = "The task was cancelled.") -> None:
        super().__init__(ErrorCode.CANCELLED, message)


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    aspect_ratio: str  # one of ASPECT_RATIOS
    provider_model: str  # the provider's own model id, e.g. "gemini-3-pro-image"
    seed: int | None = None
    image_size: str = "1K"  # "1K" | "2K" | "4K" (Gemini); providers map it as they can
    # Edits: the source image (already EXIF-stripped PNG bytes), an optional mask PNG (white =
    # change), and, for providers that fetch by URL (fal), a short-lived signed URL of the source.
    source_image: bytes | None = None
    mask: bytes | None = None
    source_image_url: str | None = None
    # Reference images (``reference_embed_ids``), each EXIF-stripped PNG bytes like the source.
    references: tuple[bytes, ...] = ()
    timeout: float = 300.0


@dataclass(frozen=True)
class ProviderResult:
    data: bytes  # the image exactly as the provider returned it
    mime: str  # "image/png", "image/jpeg", "image/webp"
    model_version: str | None = None
    seed: int | None = None
    usage: dict = field(default_factory=dict)  # e.g. token counts, for cost


class ProgressReporter(Protocol):
    def __call__(
        self,
        *,
        stage: str,
        progress: int,
        queue_position: int | None = None,
        eta_seconds: float | None = None,
        provider_request_id: str | None = None,
    ) -> None: ...


def no_progress(**_: object) -> None:
    """A ProgressReporter that ignores everything (for benchmarks and direct calls)."""


class Provider(ABC):
    """One image generator.

    ``on_model_missing(provider_model, reason)`` is called when a call finds that the model does
    not exist (a 404): the registry wires it to ``availability.mark_missing`` so the model is
    listed as unavailable at once, without Django code in the providers."""

    name: str
    on_model_missing: Callable[[str, str], None] = staticmethod(lambda model, reason: None)

    @abstractmethod
    def is_available(self) -> bool:
        """True when configured (e.g. has an API key). Unavailable models are listed, not hidden."""

    def check_model(self, provider_model: str) -> str | None:
        """Ask the provider whether ``provider_model`` exists: the reason it is unavailable, or
        None when it is there or the provider has no way to tell. Raises on other failures
        (network, 5xx), which say nothing about the model."""
        return None

    @abstractmethod
    def generate(
        self,
        request: GenerationRequest,
        *,
        report: ProgressReporter = no_progress,
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> ProviderResult:
        """Make one image (or an edit when ``request.source_image`` is set).

        Must call ``report`` as real progress happens (queue position, provider stage), poll
        ``is_cancelled`` while waiting and raise ``Cancelled`` (after cancelling upstream where
        the provider allows it), and raise ``ProviderError`` for every failure.
        """
