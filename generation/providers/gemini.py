"""Gemini image models (``gemini-3-pro-image``, ``gemini-3.1-flash-image``) through google-genai.

One ``generate_content`` call with IMAGE (+TEXT) modalities and an ``image_config``; the answer's
last image part that is not a "thought" is the result. Only safety blocks (a prompt's
``blockReason``, a safety ``finishReason``) become ``content_blocked``; other finish reasons
without an image (``MALFORMED_RESPONSE``, ``OTHER``…) are a glitch of the model: called once more,
then a plain ``provider_unavailable``. A 429 whose ``QuotaFailure`` says ``quotaValue: "0"`` (this
key's tier has no quota for the model) is ``quota_exceeded`` at once; other 429s and 5xx are
retryable (a RetryInfo delay is honoured by the worker). A 404 means the model is gone: it is
marked unavailable at once. The SDK's own retries stay off: the worker owns retries, so a task
never multiplies calls unseen. Gemini has no cancel API: on cancel we stop waiting and abandon
the call. ``generateContent`` has no mask input: an edit's mask goes along as a hint, and the
pipeline composites the answer onto the source through the mask (``embeds.imaging.compositing``).
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
# Finish reasons that are safety blocks (types.py FinishReason): the one case of content_blocked.
_SAFETY_FINISH = {
    "SAFETY",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "RECITATION",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "IMAGE_OTHER",
    "MODEL_ARMOR",
}
# Finish reasons that mean "the model answered, just not with an image": the user can rephrase.
_ANSWERED_WITHOUT_IMAGE = {"STOP", "MAX_TOKENS", "NO_IMAGE", None}
# Anything else (MALFORMED_RESPONSE, MISSING_THOUGHT_SIGNATURE, LANGUAGE, UNEXPECTED_TOOL_CALL,
# TOO_MANY_TOOL_CALLS, OTHER, values added later…) is a glitch: worth exactly one more call.
_GLITCH_ATTEMPTS = 2
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


def _detail_items(details: object) -> list:
    """The ``error.details`` list of a Google API error body (``APIError.details`` is the body)."""
    items = details.get("error", {}).get("details", []) if isinstance(details, dict) else details
    return items if isinstance(items, list) else []


def _no_quota(details: object) -> bool:
    """True when a 429's QuotaFailure has a violation with ``quotaValue: "0"``: this key's tier
    has no quota at all for the model, so waiting never helps."""
    for item in _detail_items(details):
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("QuotaFailure"):
            for violation in item.get("violations") or []:
                if isinstance(violation, dict) and str(violation.get("quotaValue")) == "0":
                    return True
    return False


def _retry_delay(details: object) -> float | None:
    """The RetryInfo delay ("12s", "1.5s") from a Google API error's details, if any."""
    for item in _detail_items(details):
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = re.match(r"^([0-9.]+)s$", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _missing(provider_model: str) -> str:
    """Why a model that Google answers 404 for is unavailable (stored and shown in plaintext)."""
    return f"Google answers 404 NOT_FOUND for {provider_model}: the model does not exist (any more)."


class _Glitch(Exception):
    """An answer without an image for a reason that is neither a block nor the model's choice."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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

    def check_model(self, provider_model: str) -> str | None:
        """``models.get``: a 404 means the model is gone (e.g. a shut-down preview id)."""
        if not self.is_available():
            return None
        try:
            self._client(30.0).models.get(model=provider_model)
        except errors.APIError as exc:
            if getattr(exc, "code", None) == 404:
                return _missing(provider_model)
            raise
        return None

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
        """The prompt alone, or the prompt then its images as inline parts: an edit's source (and
        mask), then the references, each said in the text so the model knows which is which."""
        if request.source_image is None and not request.references:
            return request.prompt
        instruction = request.prompt
        parts = []
        if request.source_image is not None:
            parts.append(types.Part.from_bytes(data=request.source_image, mime_type="image/png"))
            if request.mask is not None:
                instruction += (
                    "\n\nThe second image is a mask: change only the area that is white in the mask and "
                    "keep everything else exactly as it is."  # a hint: the pipeline's compositing enforces it
                )
                parts.append(types.Part.from_bytes(data=request.mask, mime_type="image/png"))
        if request.references:
            count = len(request.references)
            where = "The images" if not parts else f"The last {count} image{'s' if count > 1 else ''}"
            instruction += f"\n\n{where} {'are references' if count > 1 else 'is a reference'} to draw on."
            parts.extend(
                types.Part.from_bytes(data=image, mime_type="image/png") for image in request.references
            )
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
        for attempt in range(1, _GLITCH_ATTEMPTS + 1):
            response = self._wait(request, timeout, is_cancelled)
            try:
                return self._result(response)
            except _Glitch as glitch:
                logger.warning("generation.gemini.glitch reason=%s attempt=%s", glitch.reason, attempt)
                if attempt == _GLITCH_ATTEMPTS:
                    raise ProviderError(
                        ErrorCode.PROVIDER_UNAVAILABLE,
                        f"The image model failed to finish the image ({glitch.reason}), twice; "
                        "please try again.",
                    ) from None
                if is_cancelled():
                    raise Cancelled() from None
        raise AssertionError("unreachable")

    def _wait(
        self, request: GenerationRequest, timeout: float, is_cancelled: Callable[[], bool]
    ) -> types.GenerateContentResponse:
        """One generate_content call in a helper thread, abandoned on cancel or past the deadline."""
        started = time.monotonic()
        future = _calls.submit(self._call, request, timeout)
        while True:
            try:
                return future.result(timeout=_WAIT_STEP)
            except TimeoutError:
                if is_cancelled():
                    future.cancel()
                    raise Cancelled() from None
                if time.monotonic() - started > timeout + 5:
                    raise ProviderError(ErrorCode.PROVIDER_TIMEOUT, _TIMEOUT_TEXT, retryable=True) from None
            except errors.APIError as exc:
                raise self._error(exc, request.provider_model) from exc
            except _TIMEOUTS as exc:
                raise ProviderError(ErrorCode.PROVIDER_TIMEOUT, _TIMEOUT_TEXT, retryable=True) from exc
            except _TRANSPORT as exc:
                raise ProviderError(
                    ErrorCode.PROVIDER_UNAVAILABLE, _UNAVAILABLE_TEXT, retryable=True
                ) from exc

    def _error(self, exc: errors.APIError, provider_model: str) -> ProviderError:
        code = getattr(exc, "code", None) or 0
        message = getattr(exc, "message", None) or str(exc)
        details = getattr(exc, "details", None)
        if code == 429 and _no_quota(details):
            return ProviderError(
                ErrorCode.QUOTA_EXCEEDED,
                f"The server's Google API key has no quota for {provider_model} (its tier allows 0 "
                "requests): the operator must enable billing or use another key.",
            )
        if code == 429:
            return ProviderError(
                ErrorCode.QUOTA_EXCEEDED,
                "The image provider's quota or rate limit was reached.",
                retryable=True,
                retry_after=_retry_delay(details),
            )
        if code >= 500 or code in (408,):
            return ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE, "The image provider had an internal error.", retryable=True
            )
        if code in (401, 403) or "API_KEY" in str(details or "") or "API key" in message:
            return ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE, "The image provider rejected the server's API key."
            )
        if code == 404:
            reason = _missing(provider_model)
            self.on_model_missing(provider_model, reason)
            return ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, reason)
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
            if reason in _SAFETY_FINISH:
                raise _blocked("No image was made", reason)
            if reason not in _ANSWERED_WITHOUT_IMAGE:
                raise _Glitch(reason)
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
