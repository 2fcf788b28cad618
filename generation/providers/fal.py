"""FLUX.2 klein on fal.ai (draft tier) through fal's queue REST API, with ``requests``.

Submit to the queue, follow ``status_url`` (queue position and logs become real progress and an
ETA), fetch ``response_url``, download the image (size-capped, content type checked), and ``PUT
cancel_url`` when the user cancels or the deadline passes. Our aspect ratios map to fal's
presets where one fits exactly, else to an explicit ``{width, height}``.

As fal's own client does, the outcome is always read from ``response_url``: a request that
failed still reads ``COMPLETED`` on its status URL, and the model's error (422
``content_policy_violation``, validation errors) is the HTTP status and body of that GET. An
exhausted balance is ``403 User is locked. Reason: Exhausted balance``: ``quota_exceeded``, not
retried, telling the operator to top up. A cancel only stops a request still in the queue; once
a runner has it, fal merely signals the app, and the work (and its bill) may go on.

The klein edit endpoint has no mask input: the pipeline composites the answer onto the source
through the mask (``embeds.imaging.compositing``). The ``/base`` endpoints run 28 steps by
default (the distilled ones 4); the runner's "k/n" step logs give the remaining time.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from collections.abc import Callable, Mapping

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
_STEP = re.compile(r"(\d+)\s*/\s*(\d+)")


def image_size_for(aspect_ratio: str):
    if aspect_ratio in PRESETS:
        return PRESETS[aspect_ratio]
    width, height = dimensions_for(aspect_ratio)
    return {"width": width, "height": height}


def _detail_text(body: object) -> str:
    """fal's error text: a 422 ``detail`` list becomes "field: message; …" (``loc`` without "body")."""
    if not isinstance(body, dict):
        return str(body or "")[:500]
    detail = body.get("detail") or body.get("error")
    if isinstance(detail, list):
        messages = []
        for item in detail:
            if not isinstance(item, dict):
                messages.append(str(item))
                continue
            where = ".".join(str(part) for part in item.get("loc") or [] if part != "body")
            messages.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", item)))
        return "; ".join(messages)[:500]
    return str(detail or body)[:500]


def _is_policy_violation(body: object) -> bool:
    detail = body.get("detail") if isinstance(body, dict) else None
    items = detail if isinstance(detail, list) else [body]
    return any(isinstance(d, dict) and d.get("type") == "content_policy_violation" for d in items) or (
        isinstance(body, dict) and body.get("error_type") == "content_policy_violation"
    )


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _balance_locked(body: object) -> bool:
    return "exhausted balance" in _detail_text(body).lower() or "user is locked" in _detail_text(body).lower()


def error_for(status: int, body: object, headers: Mapping[str, str] | None = None) -> ProviderError:
    """The ProviderError for one of fal's error answers (HTTP status, JSON body, headers)."""
    headers = headers or {}
    if status == 403 and _balance_locked(body):
        return ProviderError(
            ErrorCode.QUOTA_EXCEEDED,
            "The fal.ai account's balance is exhausted (fal: User is locked): the operator must top "
            "up the balance at fal.ai/dashboard/billing.",
        )
    if _is_policy_violation(body):
        reason = _detail_text(body).split(": ", 1)[-1]
        return ProviderError(
            ErrorCode.CONTENT_BLOCKED, f"The request was blocked by the provider's content policy: {reason}"
        )
    if status in (401, 403):
        return ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE, "The draft provider rejected the server's API key."
        )
    if status == 429:
        return ProviderError(
            ErrorCode.QUOTA_EXCEEDED,
            "The draft provider's rate limit was reached.",
            retryable=True,
            retry_after=_seconds(headers.get("Retry-After")),
        )
    if status == 404:
        return ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE, f"fal.ai answers 404 for this model: {_detail_text(body)}"
        )
    if status in (400, 422):
        return ProviderError(
            ErrorCode.INVALID_REQUEST, f"The draft provider refused the request: {_detail_text(body)}"
        )
    if status >= 500 or status == 408:
        error_type = (body.get("error_type") if isinstance(body, dict) else None) or headers.get(
            "X-Fal-Error-Type"
        )
        code = (
            ErrorCode.PROVIDER_TIMEOUT
            if error_type in ("request_timeout", "startup_timeout")
            else ErrorCode.PROVIDER_UNAVAILABLE
        )
        return ProviderError(code, "The draft provider is temporarily unavailable.", retryable=True)
    return ProviderError(
        ErrorCode.INVALID_REQUEST, f"The draft provider answered {status}: {_detail_text(body)}"
    )


def _last_step(logs: list | None) -> tuple[int, int] | None:
    """The last "k/n" step counter in the runner's logs ("Step 2/28", a progress bar's "2/28")."""
    messages = [str(entry.get("message", "")) for entry in logs or [] if isinstance(entry, dict)]
    for message in reversed(messages):
        for done, total in reversed(_STEP.findall(message)):
            if 0 < int(done) <= int(total):
                return int(done), int(total)
    return None


def _log_progress(logs: list | None) -> int:
    """Provider progress (20-90) from the runner's logs: the last step counter, else a step per
    log line."""
    step = _last_step(logs)
    if step is not None:
        return 20 + 70 * step[0] // step[1]
    return min(85, 20 + 10 * len([entry for entry in logs or [] if isinstance(entry, dict)]))


class _Pace:
    """Time left from the pace of the runner's steps (28 on the /base endpoints): the time
    between the first step counter we saw and the latest, per step, times the steps to go.
    None until two counters apart have been seen: no guess dressed up as a measurement."""

    def __init__(self) -> None:
        self._first: tuple[float, int] | None = None

    def remaining(self, logs: list | None) -> float | None:
        step = _last_step(logs)
        if step is None:
            return None
        done, total = step
        now = time.monotonic()
        if self._first is None:
            self._first = (now, done)
            return None
        started, first_done = self._first
        if done <= first_done:
            return None
        return round((now - started) / (done - first_done) * (total - done), 1)


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

    def _request(
        self, session: requests.Session, method: str, url: str, *, model: str | None = None, **kwargs
    ) -> object:
        """One call to fal's queue; errors mapped by ``error_for``. With ``model`` (the submit), a
        404 means fal has no such model: it is reported missing at once."""
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
            error = error_for(response.status_code, body, response.headers)
            if model and response.status_code == 404:
                self.on_model_missing(model, error.message)
            raise error
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
        if request.references:
            # fal takes a data URI wherever it takes a file URL: the stripped references go inline
            # (no link of ours to publish and withdraw for each).
            body["image_urls"] = [
                *body.get("image_urls", []),
                *(
                    "data:image/png;base64," + base64.b64encode(image).decode()
                    for image in request.references
                ),
            ]
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
        if not self.is_available():
            raise ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "No API key is configured for fal.ai.")
        body = self._body(request)
        if is_cancelled():
            raise Cancelled()  # nothing submitted, nothing billed
        session = self._session()
        # Images in (an edit's source, references): the edit endpoint, which takes image_urls.
        endpoint = request.provider_model + ("/edit" if "image_urls" in body else "")
        deadline = time.monotonic() + min(self.timeout, request.timeout)
        submitted = self._request(
            session, "POST", f"{self.queue_base_url}/{endpoint}", model=request.provider_model, json=body
        )
        if not isinstance(submitted, dict) or "status_url" not in submitted:
            raise ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE, "The draft provider answered unexpectedly.", retryable=True
            )
        cancel_url = submitted.get("cancel_url")
        pace = _Pace()
        report(
            stage="queued",
            progress=1,
            queue_position=submitted.get("queue_position"),
            provider_request_id=submitted.get("request_id"),
        )
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
                logs = status.get("logs")
                report(
                    stage="generating",
                    progress=_log_progress(logs),
                    queue_position=None,
                    eta_seconds=pace.remaining(logs),
                )
            elif state == "COMPLETED":
                # Success or not, the outcome is at response_url (a failure reads COMPLETED too).
                report(stage="generating", progress=95, queue_position=None)
                break
            else:
                raise ProviderError(ErrorCode.INTERNAL, f"The draft provider reported status {state!r}.")
            self._sleep(self.poll_interval, is_cancelled)
        output = self._request(session, "GET", submitted["response_url"])
        return self._result(output, request)

    @staticmethod
    def _sleep(seconds: float, is_cancelled: Callable[[], bool]) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not is_cancelled():
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def _result(self, output: object, request: GenerationRequest) -> ProviderResult:
        if not isinstance(output, dict) or not output.get("images"):
            raise ProviderError(ErrorCode.INTERNAL, "The draft provider returned no image.")
        if any(output.get("has_nsfw_concepts") or []):
            raise ProviderError(
                ErrorCode.CONTENT_BLOCKED, "The image was blocked by the provider's safety checker."
            )
        image = output["images"][0]
        url = str(image.get("url", ""))
        data, mime = self._data_uri(url) if url.startswith("data:") else self._download(url)
        # fal bills klein per megapixel of output: what it says it made, else what we asked for.
        width, height = image.get("width"), image.get("height")
        if not (isinstance(width, int) and isinstance(height, int)):
            width, height = dimensions_for(request.aspect_ratio)
        return ProviderResult(
            data=data,
            mime=mime,
            seed=output.get("seed"),
            usage={
                "images": 1,
                "megapixels": round(width * height / 1e6, 3),
                "timings": output.get("timings"),
            },
        )

    def _checked(self, data: bytes, mime: str) -> tuple[bytes, str]:
        if not mime.startswith("image/"):
            raise ProviderError(
                ErrorCode.INTERNAL, f"The draft provider returned {mime or 'no type'}, not an image."
            )
        if len(data) > self.max_download_bytes:
            raise self._too_large()
        return data, mime

    def _too_large(self) -> ProviderError:
        return ProviderError(
            ErrorCode.INTERNAL,
            f"The generated image is larger than the allowed {self.max_download_bytes} bytes.",
        )

    def _data_uri(self, url: str) -> tuple[bytes, str]:
        """Bytes and type of a ``data:`` URI (fal's ``sync_mode`` answers)."""
        header, _, payload = url.partition(",")
        mime = header[5:].split(";")[0]
        if not mime.startswith("image/"):
            return self._checked(b"", mime)
        if len(payload) * 3 // 4 > self.max_download_bytes + 3:
            raise self._too_large()
        try:
            data = base64.b64decode(payload, validate=True) if ";base64" in header else payload.encode()
        except (binascii.Error, ValueError) as exc:
            raise ProviderError(
                ErrorCode.INTERNAL, "The draft provider returned a malformed data URI."
            ) from exc
        return self._checked(data, mime)

    def _download(self, url: str) -> tuple[bytes, str]:
        """Fetch the result from fal's CDN: a plain GET without our key (the URL is the credential;
        the key never goes to a host other than the queue), capped at ``max_download_bytes``."""
        if not url.startswith(("http://", "https://")):
            raise ProviderError(ErrorCode.INTERNAL, "The draft provider returned an unusable image address.")
        unreachable = ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE, "The generated image could not be downloaded.", retryable=True
        )
        try:
            with requests.get(url, stream=True, timeout=(_CONNECT_TIMEOUT, _READ_TIMEOUT)) as response:
                if response.status_code != 200:
                    raise unreachable
                mime = response.headers.get("Content-Type", "").split(";")[0].strip()
                self._checked(b"", mime)
                if int(response.headers.get("Content-Length") or 0) > self.max_download_bytes:
                    raise self._too_large()
                chunks, size = [], 0
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > self.max_download_bytes:
                        raise self._too_large()
                    chunks.append(chunk)
        except requests.RequestException as exc:
            raise unreachable from exc
        return self._checked(b"".join(chunks), mime)
