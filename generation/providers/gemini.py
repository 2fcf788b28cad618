"""Gemini image models (high-end: ``gemini-3-pro-image-preview``) through the google-genai SDK.

One ``generate_content`` call with IMAGE (+TEXT) modalities and an ``image_config``; the answer's
last image part that is not a "thought" is the result. Prompt blocks and output blocks become
``content_blocked`` with a readable reason; 429 and 5xx are retryable (a RetryInfo delay is
honoured by the worker), other 4xx are not. The SDK's own retries stay off: the worker owns
retries, so a task never multiplies calls unseen. Gemini has no cancel API: on cancel we stop
waiting and abandon the call.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from google import genai
from google.genai import errors, types

from .base import (
    Cancelled,
    ErrorCode,
    GenerationRequest,
    ProgressReporter,
    Provider,
    ProviderError,
    ProviderResult,
    no_progress,
)

logger = logging.getLogger(__name__)


def _transport_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(timeouts, other transport errors) of whichever HTTP library the SDK uses (httpx/httpx2)."""
    timeouts: list[type] = []
    transport: list[type] = []
    for name in ("httpx2", "httpx"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transport.append(module.TransportError)
    return tuple(timeouts), tuple(transport)


_TIMEOUTS, _TRANSPORT = _transport_errors()
_calls = ThreadPoolExecutor(max_workers=16, thread_name_prefix="gemini")
_WAIT_STEP = 0.2
_BLOCK_REASONS = {
    "SAFETY": "it was flagged by the provider's safety filters",
    "BLOCKLIST": "it contains blocked terms",
    "PROHIBITED_CONTENT": "it asks for prohibited content",
    "IMAGE_SAFETY": "the image would violate the provider's safety rules",
    "IMAGE_PROHIBITED_CONTENT": "the image would contain prohibited content",
    "IMAGE_RECITATION": "the image would reproduce protected material",
    "RECITATION": "the answer would reproduce protected material",
    "SPII": "it involves sensitive personal information",
    "OTHER": "the provider refused it",
    "IMAGE_OTHER": "the provider refused to make this image",
}
# Finish reasons that mean "the model answered, just not with an image": the user can rephrase.
_NOT_BLOCKED = {
    "STOP",
    "MAX_TOKENS",
    "FINISH_REASON_UNSPECIFIED",
    "NO_IMAGE",
    "MALFORMED_FUNCTION_CALL",
    None,
}
_UNAVAILABLE_TEXT = "The image model could not be reached."
_TIMEOUT_TEXT = "The image model took too long to answer."


def _enum_name(value: object) -> str | None:
    if value is None:
        return None
    return getattr(value, "name", None) or str(value).rsplit(".", 1)[-1]


def _blocked(what: str, reason: str | None) -> ProviderError:
    """``content_blocked`` naming Google's reason code, so a user (or support) can look it up."""
    explanation = _BLOCK_REASONS.get(reason or "", "the provider refused it")
    return ProviderError(ErrorCode.CONTENT_BLOCKED, f"{what} ({reason or 'UNSPECIFIED'}): {explanation}.")


def _retry_delay(details: object) -> float | None:
    """The RetryInfo delay ("12s", "1.5s") from a Google API error's details, if any."""
    items = details.get("error", {}).get("details", []) if isinstance(details, dict) else details
    for item in items or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = re.match(r"^([0-9.]+)s$", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


class GeminiProvider(Provider):
    name = "gemini"

    def __init__(self, *, api_key: str, base_url: str, api_version: str, timeout: float) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.api_version = api_version
        self.timeout = timeout
        self._clients: dict[float, genai.Client] = {}

    def is_available(self) -> bool:
        return bool(self.api_key)

    def _client(self, timeout: float) -> genai.Client:
        # One client per timeout, kept for the provider's life: the SDK closes its HTTP client
        # when the Client object is collected, even mid-request.
        client = self._clients.get(timeout)
        if client is None:
            client = self._clients[timeout] = self._new_client(timeout)
        return client

    def _new_client(self, timeout: float) -> genai.Client:
        return genai.Client(
            api_key=self.api_key,
            http_options=types.HttpOptions(
                base_url=self.base_url, api_version=self.api_version, timeout=int(timeout * 1000)
            ),
        )

    @staticmethod
    def _contents(request: GenerationRequest) -> list | str:
        if request.source_image is None:
            return request.prompt
        instruction = request.prompt
        parts = [types.Part.from_bytes(data=request.source_image, mime_type="image/png")]
        if request.mask is not None:
            instruction += (
                "\n\nThe second image is a mask: change only the area that is white in the mask and keep "
                "everything else exactly as it is."
            )
            parts.append(types.Part.from_bytes(data=request.mask, mime_type="image/png"))
        return [types.Part.from_text(text=instruction), *parts]

    def _call(self, request: GenerationRequest, timeout: float) -> types.GenerateContentResponse:
        config = types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=request.aspect_ratio, image_size=request.image_size),
        )
        client = self._client(timeout)
        return client.models.generate_content(
            model=request.provider_model, contents=self._contents(request), config=config
        )

    def generate(
        self,
        request: GenerationRequest,
        *,
        report: ProgressReporter = no_progress,
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> ProviderResult:
        if not self.is_available():
            raise ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "No API key is configured for Gemini.")
        if is_cancelled():
            raise Cancelled()
        timeout = min(self.timeout, request.timeout)
        report(stage="generating", progress=5)
        started = time.monotonic()
        future = _calls.submit(self._call, request, timeout)
        while True:
            try:
                response = future.result(timeout=_WAIT_STEP)
                break
            except TimeoutError:
                if is_cancelled():
                    future.cancel()
                    raise Cancelled() from None
                if time.monotonic() - started > timeout + 5:
                    raise ProviderError(ErrorCode.PROVIDER_TIMEOUT, _TIMEOUT_TEXT, retryable=True) from None
            except errors.APIError as exc:
                raise self._error(exc) from exc
            except _TIMEOUTS as exc:
                raise ProviderError(ErrorCode.PROVIDER_TIMEOUT, _TIMEOUT_TEXT, retryable=True) from exc
            except _TRANSPORT as exc:
                raise ProviderError(
                    ErrorCode.PROVIDER_UNAVAILABLE, _UNAVAILABLE_TEXT, retryable=True
                ) from exc
        return self._result(response)

    @staticmethod
    def _error(exc: errors.APIError) -> ProviderError:
        code = getattr(exc, "code", None) or 0
        message = getattr(exc, "message", None) or str(exc)
        if code == 429:
            return ProviderError(
                ErrorCode.QUOTA_EXCEEDED,
                "The image provider's quota or rate limit was reached.",
                retryable=True,
                retry_after=_retry_delay(getattr(exc, "details", None)),
            )
        if code >= 500 or code in (408,):
            return ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE, "The image provider had an internal error.", retryable=True
            )
        if code in (401, 403) or "API_KEY" in str(getattr(exc, "details", "")) or "API key" in message:
            return ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE, "The image provider rejected the server's API key."
            )
        if code == 404:
            return ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE, "The image model is not available at the provider."
            )
        return ProviderError(ErrorCode.INVALID_REQUEST, f"The image provider refused the request: {message}")

    @staticmethod
    def _result(response: types.GenerateContentResponse) -> ProviderResult:
        if not response.candidates:
            feedback = response.prompt_feedback
            raise _blocked("The prompt was blocked", _enum_name(feedback.block_reason) if feedback else None)
        candidate = response.candidates[0]
        parts = (candidate.content.parts if candidate.content else None) or []
        images = [p for p in parts if p.inline_data is not None and p.inline_data.data and not p.thought]
        if not images:
            reason = _enum_name(candidate.finish_reason)
            if reason not in _NOT_BLOCKED:
                raise _blocked("No image was made", reason)
            said = " ".join(p.text.strip() for p in parts if p.text and not p.thought)[:500]
            raise ProviderError(
                ErrorCode.INVALID_REQUEST,
                "The image model answered without an image. Try rephrasing the request.",
                detail=said or None,
            )
        image = images[-1].inline_data
        return ProviderResult(
            data=image.data,
            mime=image.mime_type or "image/png",
            model_version=response.model_version,
            usage=_usage(response.usage_metadata),
        )


def _usage(metadata: types.GenerateContentResponseUsageMetadata | None) -> dict:
    """Token counts for cost: Gemini bills image output by the IMAGE modality's tokens."""
    if metadata is None:
        return {}
    image_tokens = sum(
        detail.token_count or 0
        for detail in metadata.candidates_tokens_details or []
        if _enum_name(detail.modality) == "IMAGE"
    )
    return {
        "prompt_tokens": metadata.prompt_token_count,
        "output_tokens": metadata.candidates_token_count,
        "thought_tokens": metadata.thoughts_token_count,
        "total_tokens": metadata.total_token_count,
        "image_tokens": image_tokens,
    }
