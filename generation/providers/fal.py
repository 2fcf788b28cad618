"""FLUX.2 klein on fal.ai (draft tier) through fal's queue REST API, with ``requests``.

Submit to the queue, follow ``status_url`` (queue position and logs become real progress),
fetch ``response_url``, download the image (size-capped, content type checked), and ``PUT
cancel_url`` when the user cancels or the deadline passes. Our aspect ratios map to fal's
presets where one fits exactly, else to an explicit ``{width, height}``.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable

import requests

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
from .sizes import dimensions_for

logger = logging.getLogger(__name__)

PRESETS = {
    "1:1": "square_hd",
    "4:3": "landscape_4_3",
    "3:4": "portrait_4_3",
    "16:9": "landscape_16_9",
    "9:16": "portrait_16_9",
}
_CONNECT_TIMEOUT = 10
_READ_TIMEOUT = 60


def image_size_for(aspect_ratio: str):
    if aspect_ratio in PRESETS:
        return PRESETS[aspect_ratio]
    width, height = dimensions_for(aspect_ratio)
    return {"width": width, "height": height}


def _detail_text(body: object) -> str:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail or body or "")[:500]


def _is_policy_violation(body: object) -> bool:
    detail = body.get("detail") if isinstance(body, dict) else None
    items = detail if isinstance(detail, list) else [body]
    return any(isinstance(d, dict) and d.get("type") == "content_policy_violation" for d in items) or (
        isinstance(body, dict) and body.get("error_type") == "content_policy_violation"
    )


def error_for(status: int, body: object, headers: dict | None = None) -> ProviderError:
    if _is_policy_violation(body):
        return ProviderError(
            ErrorCode.CONTENT_BLOCKED, "The request was blocked by the provider's content policy."
        )
    if status in (401, 403):
        return ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "The draft provider rejected our credentials.")
    if status == 429:
        return ProviderError(
            ErrorCode.QUOTA_EXCEEDED, "The draft provider's rate limit was reached.", retryable=True
        )
    if status == 422 or status == 400:
        return ProviderError(
            ErrorCode.INVALID_REQUEST, f"The draft provider refused the request: {_detail_text(body)}"
        )
    if status in (502, 503, 504) or status >= 500 or status == 408:
        error_type = (body.get("error_type") if isinstance(body, dict) else None) or (headers or {}).get(
            "X-Fal-Error-Type"
        )
        code = (
            ErrorCode.PROVIDER_TIMEOUT
            if error_type in ("request_timeout", "startup_timeout")
            else (ErrorCode.PROVIDER_UNAVAILABLE)
        )
        return ProviderError(code, "The draft provider is temporarily unavailable.", retryable=True)
    return ProviderError(
        ErrorCode.INVALID_REQUEST, f"The draft provider answered {status}: {_detail_text(body)}"
    )


class FalProvider(Provider):
    name = "fal"

    def __init__(
        self,
        *,
        api_key: str,
        queue_base_url: str,
        run_base_url: str,
        timeout: float,
        poll_interval: float,
        max_download_bytes: int,
    ) -> None:
        self.api_key = api_key
        self.queue_base_url = queue_base_url.rstrip("/")
        self.run_base_url = run_base_url.rstrip("/")
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.max_download_bytes = max_download_bytes

    def is_available(self) -> bool:
        return bool(self.api_key)

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update({"Authorization": f"Key {self.api_key}", "User-Agent": "openmates-images"})
        return session

    @staticmethod
    def _json(response: requests.Response) -> object:
        try:
            return response.json()
        except ValueError:
            return {"detail": response.text[:500]}

    def _request(self, session: requests.Session, method: str, url: str, **kwargs) -> object:
        try:
            response = session.request(method, url, timeout=(_CONNECT_TIMEOUT, _READ_TIMEOUT), **kwargs)
        except requests.Timeout as exc:
            raise ProviderError(
                ErrorCode.PROVIDER_TIMEOUT, "The draft provider did not answer.", retryable=True
            ) from exc
        except requests.RequestException as exc:
            raise ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE, "The draft provider could not be reached.", retryable=True
            ) from exc
        body = self._json(response)
        if response.status_code >= 300:
            raise error_for(response.status_code, body, dict(response.headers))
        return body

    def _body(self, request: GenerationRequest) -> dict:
        body: dict = {
            "prompt": request.prompt,
            "image_size": image_size_for(request.aspect_ratio),
            "output_format": "png",
            "num_images": 1,
            "enable_safety_checker": True,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.source_image is not None:
            if not request.source_image_url:
                raise ProviderError(ErrorCode.INVALID_REQUEST, "The draft provider needs the image as a URL.")
            body["image_urls"] = [request.source_image_url]
        return body

    def _cancel(self, session: requests.Session, cancel_url: str | None) -> None:
        if not cancel_url:
            return
        try:
            session.put(cancel_url, timeout=(_CONNECT_TIMEOUT, 10))
        except requests.RequestException:
            logger.warning("generation.fal.cancel_failed")

    def generate(
        self,
        request: GenerationRequest,
        *,
        report: ProgressReporter = no_progress,
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> ProviderResult:
        session = self._session()
        endpoint = request.provider_model + ("/edit" if request.source_image is not None else "")
        deadline = time.monotonic() + min(self.timeout, request.timeout)
        submitted = self._request(
            session, "POST", f"{self.queue_base_url}/{endpoint}", json=self._body(request)
        )
        if not isinstance(submitted, dict) or "status_url" not in submitted:
            raise ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE, "The draft provider answered unexpectedly.", retryable=True
            )
        cancel_url = submitted.get("cancel_url")
        report(
            stage="queued",
            progress=1,
            queue_position=submitted.get("queue_position"),
            provider_request_id=submitted.get("request_id"),
        )
        logs_seen = 0
        while True:
            if is_cancelled():
                self._cancel(session, cancel_url)
                raise Cancelled()
            if time.monotonic() > deadline:
                self._cancel(session, cancel_url)
                raise ProviderError(
                    ErrorCode.PROVIDER_TIMEOUT, "The draft provider took too long.", retryable=True
                )
            status = self._request(session, "GET", submitted["status_url"], params={"logs": "1"})
            state = status.get("status") if isinstance(status, dict) else None
            if state == "IN_QUEUE":
                report(stage="queued", progress=2, queue_position=status.get("queue_position"))
            elif state == "IN_PROGRESS":
                logs_seen = max(logs_seen, len(status.get("logs") or []))
                report(stage="generating", progress=min(90, 20 + 10 * logs_seen), queue_position=None)
            elif state == "COMPLETED":
                if status.get("error"):
                    raise error_for(500 if status.get("error_type") else 422, status)
                break
            else:
                raise ProviderError(ErrorCode.INTERNAL, f"The draft provider reported status {state!r}.")
            self._sleep(self.poll_interval, is_cancelled)
        output = self._request(session, "GET", submitted["response_url"])
        return self._result(session, output)

    @staticmethod
    def _sleep(seconds: float, is_cancelled: Callable[[], bool]) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not is_cancelled():
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def _result(self, session: requests.Session, output: object) -> ProviderResult:
        if not isinstance(output, dict) or not output.get("images"):
            raise ProviderError(ErrorCode.INTERNAL, "The draft provider returned no image.")
        if any(output.get("has_nsfw_concepts") or []):
            raise ProviderError(
                ErrorCode.CONTENT_BLOCKED, "The image was blocked by the provider's safety checker."
            )
        image = output["images"][0]
        data, mime = self._download(session, str(image.get("url", "")))
        return ProviderResult(
            data=data,
            mime=mime,
            seed=output.get("seed"),
            usage={"images": 1, "timings": output.get("timings")},
        )

    def _download(self, session: requests.Session, url: str) -> tuple[bytes, str]:
        if url.startswith("data:"):
            header, _, payload = url.partition(",")
            mime = header[5:].split(";")[0] or "application/octet-stream"
            data = base64.b64decode(payload) if ";base64" in header else payload.encode()
        elif url.startswith(("http://", "https://")):
            try:
                with session.get(url, stream=True, timeout=(_CONNECT_TIMEOUT, _READ_TIMEOUT)) as response:
                    if response.status_code != 200:
                        raise ProviderError(
                            ErrorCode.PROVIDER_UNAVAILABLE,
                            "The generated image could not be downloaded.",
                            retryable=True,
                        )
                    mime = response.headers.get("Content-Type", "").split(";")[0].strip()
                    chunks, size = [], 0
                    for chunk in response.iter_content(64 * 1024):
                        size += len(chunk)
                        if size > self.max_download_bytes:
                            raise ProviderError(
                                ErrorCode.INTERNAL, "The generated image is larger than allowed."
                            )
                        chunks.append(chunk)
                    data = b"".join(chunks)
            except requests.RequestException as exc:
                raise ProviderError(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    "The generated image could not be downloaded.",
                    retryable=True,
                ) from exc
        else:
            raise ProviderError(ErrorCode.INTERNAL, "The draft provider returned an unusable image address.")
        if len(data) > self.max_download_bytes:
            raise ProviderError(ErrorCode.INTERNAL, "The generated image is larger than allowed.")
        if not mime.startswith("image/"):
            raise ProviderError(
                ErrorCode.INTERNAL, f"The draft provider returned {mime or 'no type'}, not an image."
            )
        return data, mime
