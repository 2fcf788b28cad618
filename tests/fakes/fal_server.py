"""A local server speaking fal.ai's queue protocol (shared/research/providers.md, section 2).

Submit ``POST /{model_id}`` (``Authorization: Key <key>``) answers ``request_id``, ``status``,
``queue_position`` and absolute local ``status_url`` / ``response_url`` / ``cancel_url`` keyed by
owner/alias only (``/fal-ai/flux-2/requests/{id}/status`` for ``fal-ai/flux-2/klein/9b/base``).
Status bodies always carry ``logs``; IN_QUEUE answers 202. The result's image URL is served here
too (``/files/{id}.png``, requested without our key), or inlined as a ``data:`` URI.

As fal does (shared/research/providers.md, corrections of 2026-12-01):

- A request that failed still reads ``COMPLETED`` on its status URL (with ``error`` and, for an
  infrastructure failure, ``error_type``); the failure itself is the HTTP status and body of the
  ``response_url`` GET (``result_error``), e.g. 422 ``content_policy_violation``.
- An exhausted balance (``balance_locked``) answers the submit ``403 {"detail": "User is locked.
  Reason: Exhausted balance. ..."}``.
- ``PUT cancel_url`` removes a request still in the queue (202 ``CANCELLATION_REQUESTED``); for
  one a runner has, it only signals the app, which (klein) finishes anyway (``cancel_ignored``);
  for a finished one it answers 400 ``ALREADY_COMPLETED``.
- The ``/base`` endpoints run ``num_inference_steps`` (default 28) and log "Step k/n".
- A model id that fal does not host answers the submit 404 (``models`` lists the hosted ones).

Choose the behaviour with attributes before a test's call (they apply to jobs submitted after):
``queue_positions`` (IN_QUEUE polls, in order), ``running_polls`` (IN_PROGRESS polls, the steps
spread over them), ``hold`` = "queue" | "running" (stay there), ``submit_error`` / ``result_error``
= (status, body, headers), ``balance_locked``, ``output`` = "url" | "data_uri", ``nsfw``,
``download`` = "png" | "html" | "huge" | "huge_unsized" (no Content-Length),
``image_urls_must_load`` (fetch edit inputs like fal).

``cancelled`` lists the request ids that got ``PUT .../cancel``; ``jobs`` what was submitted;
``fetched`` what the fake downloaded from an edit's ``image_urls`` (url, status, body);
``input_url(name, data)`` serves an edit's source image for the fake to fetch.
"""

from __future__ import annotations

import base64
import urllib.request
import uuid

from tests.fakes.http import LocalHTTPServer, png

PRESET_SIZES = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
IMAGE_COLOR = (240, 160, 30)
HOSTED_MODELS = (
    "fal-ai/flux-2/klein/9b/base",
    "fal-ai/flux-2/klein/4b/base",
    "fal-ai/flux-2/klein/9b",
    "fal-ai/flux-2/klein/4b",
)
BASE_STEPS = 28  # the /base endpoints' default num_inference_steps (the distilled ones: 4)
BALANCE_LOCKED = {
    "detail": "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FalServer(LocalHTTPServer):
    def __init__(self, api_key: str = "fal-test-key", downscale: int = 16) -> None:
        super().__init__()
        self.api_key = api_key
        self.downscale = downscale
        self.queue_positions: list[int] = [3, 2, 1]
        self.running_polls = 2
        self.hold: str | None = None
        self.submit_error: tuple[int, object, dict] | None = None
        self.result_error: tuple[int, object, dict] | None = None
        self.balance_locked = False
        self.models: set[str] = set(HOSTED_MODELS)
        self.output = "url"
        self.nsfw = False
        self.download = "png"
        self.huge_bytes = 400_000
        self.image_urls_must_load = True
        self.jobs: dict[str, dict] = {}
        self.cancelled: list[str] = []
        self.cancel_ignored: list[str] = []  # cancels that reached a running request: no effect
        self.fetched: list[dict] = []  # edit inputs fetched from image_urls, as fal does
        self.inputs: dict[str, bytes] = {}  # served at /inputs/<name>: edit sources to fetch

    def input_url(self, name: str, data: bytes) -> str:
        self.inputs[name] = data
        return f"{self.url}/inputs/{name}"

    def submitted(self) -> list[dict]:
        """The submit requests received (POSTs to a model id)."""
        return [r for r in self.requests if r["method"] == "POST"]

    def _authorized(self, handler, record: dict) -> bool:
        if record["headers"].get("authorization") == f"Key {self.api_key}":
            return True
        handler.reply(401, {"detail": "No user found for Key ID and Secret"})
        return False

    def handle(self, handler, record: dict) -> None:
        segments = record["path"].strip("/").split("/")
        method = record["method"]
        if segments[0] == "inputs" and method == "GET":
            data = self.inputs.get(segments[-1])
            if data is None:
                handler.reply(404, {"detail": "Not Found"})
            else:
                handler.reply(200, data, content_type="image/png")
        elif segments[0] == "files" and method == "GET":
            self._serve_file(handler, segments[-1].removesuffix(".png"))
        elif len(segments) >= 4 and segments[2] == "requests":
            if self._authorized(handler, record):
                self._serve_request(handler, method, segments)
        elif method == "POST" and len(segments) >= 2:
            if self._authorized(handler, record):
                self._submit(handler, record, segments)
        else:
            handler.reply(404, {"detail": "Not Found"})

    # -- queue --------------------------------------------------------------------------------------

    def _submit(self, handler, record: dict, segments: list[str]) -> None:
        if self.balance_locked:
            handler.reply(403, BALANCE_LOCKED)
            return
        if self.submit_error:
            status, body, headers = self.submit_error
            handler.reply(status, body, headers=headers)
            return
        model = "/".join(segments).removesuffix("/edit")
        if model not in self.models:
            handler.reply(404, {"detail": f"Application '{model}' not found"})
            return
        body = record["json"] or {}
        if self.image_urls_must_load:
            for index, url in enumerate(body.get("image_urls") or []):
                try:
                    with _NO_PROXY.open(url, timeout=5) as fetched:
                        self.fetched.append({"url": url, "status": fetched.status, "body": fetched.read()})
                except Exception:
                    handler.reply(
                        422,
                        {
                            "detail": [
                                {
                                    "loc": ["body", "image_urls", index],
                                    "msg": f"Failed to download the file from {url}",
                                    "type": "file_download_error",
                                }
                            ]
                        },
                    )
                    return
        request_id = str(uuid.uuid4())
        default_steps = BASE_STEPS if model.endswith("/base") else 4
        self.jobs[request_id] = {
            "model": "/".join(segments),
            "body": body,
            "steps": int(body.get("num_inference_steps") or default_steps),
            "result_error": self.result_error,
            "state": "IN_QUEUE",
            "polls": 0,
            "queue_positions": list(self.queue_positions),
            "running_polls": self.running_polls,
            "hold": self.hold,
            "cancelled": False,
        }
        base = f"{self.url}/{segments[0]}/{segments[1]}/requests/{request_id}"  # owner/alias only
        handler.reply(
            200,
            {
                "request_id": request_id,
                "status": "IN_QUEUE",
                "queue_position": self.queue_positions[0] if self.queue_positions else 0,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
            },
        )

    def _serve_request(self, handler, method: str, segments: list[str]) -> None:
        request_id = segments[3]
        job = self.jobs.get(request_id)
        if job is None:
            handler.reply(404, {"detail": f"Request {request_id} not found"})
            return
        tail = segments[4] if len(segments) > 4 else ""
        if tail == "cancel" and method == "PUT":
            self.cancelled.append(request_id)
            if job["state"] == "COMPLETED":
                handler.reply(400, {"status": "ALREADY_COMPLETED"})
                return
            if job["state"] == "IN_QUEUE":
                job["cancelled"] = True  # removed from the queue: never runs, never billed
            else:
                self.cancel_ignored.append(request_id)  # the runner has it: klein finishes anyway
            handler.reply(202, {"status": "CANCELLATION_REQUESTED"})
        elif tail == "status" and method == "GET":
            self._status(handler, job)
        elif not tail and method == "GET":
            self._result(handler, request_id, job)
        else:
            handler.reply(405, {"detail": "Method Not Allowed"})

    def _status(self, handler, job: dict) -> None:
        job["polls"] += 1
        if job["cancelled"]:
            job["state"] = "COMPLETED"
            handler.reply(200, {"status": "COMPLETED", "logs": None, "error": "Request was cancelled"})
            return
        if job["hold"] == "queue" or job["queue_positions"]:
            position = job["queue_positions"].pop(0) if job["queue_positions"] else 1
            handler.reply(202, {"status": "IN_QUEUE", "queue_position": position, "logs": None})
            return
        if job["hold"] == "running" or job["running_polls"] > 0:
            job["state"] = "IN_PROGRESS"
            job["running_polls"] -= 1
            logs = job.setdefault("logs", [])
            total = job["steps"]
            done = min(total - 1, (len(logs) + 1) * max(1, total // (self.running_polls + 1)))
            logs.append(
                {
                    "message": f"Step {max(1, done)}/{total}",
                    "level": "INFO",
                    "source": "user",
                    "timestamp": "2026-12-01T12:00:00.000000",
                }
            )
            handler.reply(200, {"status": "IN_PROGRESS", "logs": logs})
            return
        job["state"] = "COMPLETED"
        body = {"status": "COMPLETED", "logs": job.get("logs"), "metrics": {"inference_time": 0.9}}
        failure = job["result_error"]
        if failure:  # failed requests read COMPLETED too; the status carries the error's text
            error_body = failure[1]
            detail = error_body.get("detail") if isinstance(error_body, dict) else None
            body["error"] = detail if isinstance(detail, str) else "Unprocessable Entity"
            if isinstance(error_body, dict) and error_body.get("error_type"):
                body["error_type"] = error_body["error_type"]
        handler.reply(200, body)

    # -- result and files ---------------------------------------------------------------------------

    @staticmethod
    def image_size(job: dict) -> tuple[int, int]:
        requested = job["body"].get("image_size", "landscape_4_3")
        if isinstance(requested, dict):
            return int(requested["width"]), int(requested["height"])
        return PRESET_SIZES[requested]

    def _png(self, job: dict) -> bytes:
        width, height = self.image_size(job)
        return png((width // self.downscale, height // self.downscale), IMAGE_COLOR)

    def _result(self, handler, request_id: str, job: dict) -> None:
        if job["state"] != "COMPLETED":
            handler.reply(400, {"detail": "Request is still in progress"})
            return
        if job["cancelled"]:
            handler.reply(400, {"detail": "Request was cancelled"})
            return
        if job["result_error"]:
            status, body, headers = job["result_error"]
            handler.reply(status, body, headers=headers)
            return
        width, height = self.image_size(job)
        if self.output == "data_uri":
            url = "data:image/png;base64," + base64.b64encode(self._png(job)).decode()
        else:
            url = f"{self.url}/files/{request_id}.png"
        handler.reply(
            200,
            {
                "images": [
                    {
                        "url": url,
                        "width": width,
                        "height": height,
                        "content_type": "image/png",
                        "file_name": "x.png",
                    }
                ],
                "seed": job["body"].get("seed", 1234567),
                "has_nsfw_concepts": [self.nsfw],
                "prompt": job["body"].get("prompt"),
                "timings": {"inference": 0.9},
            },
        )

    def _serve_file(self, handler, request_id: str) -> None:
        job = self.jobs.get(request_id)
        if job is None:
            handler.reply(404, {"detail": "Not Found"})
        elif self.download == "html":
            handler.reply(200, b"<html><body>Access denied</body></html>", content_type="text/html")
        elif self.download == "huge":
            handler.reply(200, b"\x89PNG\r\n\x1a\n" + b"\0" * self.huge_bytes, content_type="image/png")
        elif self.download == "huge_unsized":
            handler.reply(
                200,
                b"\x89PNG\r\n\x1a\n" + b"\0" * self.huge_bytes,
                content_type="image/png",
                content_length=False,
            )
        else:
            handler.reply(200, self._png(job), content_type="image/png")
