"""Answers about images from a Gemini multimodal text model, streamed (``generate_content_stream``,
``POST .../models/{model}:streamGenerateContent?alt=sse``).

The images go as inline PNGs made by ``analysis.region.prepare_images`` (pixels only, no
metadata): the whole image with the user's shapes outlined in red, and a full-resolution close-up
of the region when it is small; the region's coordinates go in the instruction. Each streamed
chunk's text parts (thoughts excluded) are appended and handed to ``on_text`` at once.

Errors and blocks follow the image provider (``gemini.py``), whose client and error mapping this
class reuses: a prompt ``blockReason`` or a safety ``finishReason`` is ``content_blocked`` (Google's
reason code in our message; the model's own words, ``finishMessage`` and the safety ratings only
in ``detail``, which the pipeline keeps encrypted); a 429 is ``quota_exceeded`` (retried with
RetryInfo unless the tier has no quota); ``MAX_TOKENS`` keeps the answer, marked cut short; other
finish reasons, or a stream that ends with no text, are a glitch worth another attempt.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from google.genai import errors, types

from ..analysis.base import AnalysisRequest, AnalysisResult
from .base import Cancelled, ErrorCode, ProviderError
from .gemini import (
    _BLOCK_REASONS,
    _SAFETY_FINISH,
    _TIMEOUTS,
    _TRANSPORT,
    _UNAVAILABLE_TEXT,
    _WAIT_STEP,
    GeminiProvider,
    _calls,
    _enum_name,
)

_END = object()
MAX_OUTPUT_TOKENS = 2048
_TIMEOUT_TEXT = "The vision model took too long to answer."
INSTRUCTION = (
    "You answer a user's question about an image. Answer from what the image shows; say so when "
    "something cannot be told from it. Be concise and concrete."
)
_REGION_NOTE = (
    "The user marked a region of interest: the red outlines on the first image were drawn by the "
    "user and are not part of the picture. The question is about that region."
)


def _blocked(what: str, reason: str | None, detail: str | None) -> ProviderError:
    explanation = _BLOCK_REASONS.get(reason or "", "the provider refused it")
    return ProviderError(
        ErrorCode.CONTENT_BLOCKED,
        f"{what} ({reason or 'UNSPECIFIED'}): {explanation}.",
        detail=detail or None,
    )


def _ratings(candidate: types.Candidate | None) -> str:
    """The safety ratings that were not negligible, e.g. "HARM_CATEGORY_HARASSMENT=HIGH"."""
    if candidate is None:
        return ""
    found = [
        f"{_enum_name(rating.category)}={_enum_name(rating.probability)}"
        for rating in candidate.safety_ratings or []
        if rating.blocked or _enum_name(rating.probability) in ("MEDIUM", "HIGH")
    ]
    return ", ".join(found)


def _usage(metadata: types.GenerateContentResponseUsageMetadata | None) -> dict:
    if metadata is None:
        return {}
    return {
        "prompt_tokens": metadata.prompt_token_count,
        "output_tokens": metadata.candidates_token_count,
        "thought_tokens": metadata.thoughts_token_count,
        "total_tokens": metadata.total_token_count,
    }


class GeminiAnalyzer(GeminiProvider):
    """A Gemini text model looking at images; shares the image provider's client and errors."""

    name = "gemini"

    @staticmethod
    def contents(request: AnalysisRequest) -> list[types.Part]:
        """The parts sent: what the images are and where the region is, the images, the question."""
        width, height = request.images.size
        lines = [f"The first image is the whole picture ({width}×{height} pixels in the original)."]
        if request.region is not None and request.images.box is not None:
            box = request.images.box
            lines.append(_REGION_NOTE)
            lines.append(
                f"Region bounding box in original pixels: x={box.left}, y={box.top}, width={box.width}, "
                f"height={box.height}. Shapes (original pixels): {request.region['shapes']}."
            )
            if request.images.crop is not None:
                lines.append("The second image is a close-up of that region at full resolution.")
        parts = [
            types.Part.from_text(text="\n".join(lines)),
            types.Part.from_bytes(data=request.images.image, mime_type="image/png"),
        ]
        if request.images.crop is not None:
            parts.append(types.Part.from_bytes(data=request.images.crop, mime_type="image/png"))
        parts.append(types.Part.from_text(text=f"Question: {request.question}"))
        return parts

    def _stream(
        self, request: AnalysisRequest, timeout: float, out: queue.Queue, stop: threading.Event
    ) -> None:
        """Runs in a helper thread: every chunk (or the error) goes to ``out``, then _END."""
        try:
            config = types.GenerateContentConfig(
                system_instruction=INSTRUCTION, max_output_tokens=MAX_OUTPUT_TOKENS
            )
            stream = self._client(timeout).models.generate_content_stream(
                model=request.provider_model, contents=self.contents(request), config=config
            )
            for chunk in stream:
                if stop.is_set():  # cancelled or timed out: stop reading, the connection closes
                    break
                out.put(chunk)
        except Exception as exc:  # handed to the waiting thread, which maps it
            out.put(exc)
        finally:
            out.put(_END)

    def analyze(
        self,
        request: AnalysisRequest,
        *,
        on_text: Callable[[str], None],
        is_cancelled: Callable[[], bool],
    ) -> AnalysisResult:
        if not self.is_available():
            raise ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "No API key is configured for Gemini.")
        if is_cancelled():
            raise Cancelled()
        timeout = min(self.timeout, request.timeout)
        chunks: queue.Queue = queue.Queue()
        stop = threading.Event()
        _calls.submit(self._stream, request, timeout, chunks, stop)
        started = time.monotonic()
        text = ""
        finish = version = None
        candidate = usage = None
        try:
            while True:
                try:
                    item = chunks.get(timeout=_WAIT_STEP)
                except queue.Empty:
                    if is_cancelled():
                        raise Cancelled() from None
                    if time.monotonic() - started > timeout + 5:
                        raise ProviderError(
                            ErrorCode.PROVIDER_TIMEOUT, _TIMEOUT_TEXT, retryable=True
                        ) from None
                    continue
                if item is _END:
                    break
                if isinstance(item, Exception):
                    raise self._mapped(item, request.provider_model)
                feedback = item.prompt_feedback
                if feedback is not None and feedback.block_reason is not None:
                    raise _blocked(
                        "The question was blocked",
                        _enum_name(feedback.block_reason),
                        feedback.block_reason_message,
                    )
                version = item.model_version or version
                usage = item.usage_metadata or usage
                if item.candidates:
                    candidate = item.candidates[0]
                    parts = (candidate.content.parts if candidate.content else None) or []
                    piece = "".join(p.text for p in parts if p.text and not p.thought)
                    if piece:
                        text += piece
                        on_text(text)
                    finish = _enum_name(candidate.finish_reason) or finish
                if is_cancelled():
                    raise Cancelled()
        finally:
            stop.set()
        return self._ending(text, finish, candidate, version, usage)

    def _mapped(self, exc: Exception, provider_model: str) -> ProviderError:
        if isinstance(exc, errors.APIError):
            return self._error(exc, provider_model)
        if isinstance(exc, _TIMEOUTS):
            return ProviderError(ErrorCode.PROVIDER_TIMEOUT, _TIMEOUT_TEXT, retryable=True)
        if isinstance(exc, _TRANSPORT):
            return ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, _UNAVAILABLE_TEXT, retryable=True)
        raise exc

    @staticmethod
    def _ending(text: str, finish: str | None, candidate, version: str | None, usage) -> AnalysisResult:
        if finish in _SAFETY_FINISH:
            said = "; ".join(
                part
                for part in (
                    f"finishReason={finish}",
                    getattr(candidate, "finish_message", None),
                    _ratings(candidate),
                    f"partial answer: {text}" if text else None,
                )
                if part
            )
            raise _blocked("The model declined to answer", finish, said)
        if finish not in ("STOP", "MAX_TOKENS", None) or not text.strip():
            raise ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"The vision model did not finish its answer ({finish or 'no text'}); trying again may help.",
                retryable=True,
            )
        return AnalysisResult(answer=text, model_version=version, finish_reason=finish, usage=_usage(usage))
