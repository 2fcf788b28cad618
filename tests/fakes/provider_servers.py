"""Local servers that speak Gemini's generateContent and fal's queue protocols.

They follow the wire facts in shared/research/providers.md: Gemini answers camelCase JSON on
``/{v1|v1beta}/models/{model}:generateContent`` with base64 ``inlineData``; fal's queue answers
a submit with absolute status/response/cancel URLs keyed by request id, status bodies always
carry ``logs``, and the result's image URL is served here too. Tests script the behaviour with
``mode`` and read back what was received in ``requests``.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

from generation.providers.sizes import dimensions_for


def png_for(aspect_ratio: str, color=(30, 120, 220), scale: int = 8) -> bytes:
    width, height = dimensions_for(aspect_ratio)
    buffer = io.BytesIO()
    Image.new("RGB", (width // scale, height // scale), color).save(buffer, "PNG")
    return buffer.getvalue()


class _Server:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.mode = "ok"
        self.calls = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def reply(self, status: int, body, content_type: str = "application/json", headers=None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _dispatch(self, method: str) -> None:
                raw = self._body()
                owner.requests.append(
                    {"method": method, "path": self.path, "headers": dict(self.headers), "body": raw}
                )
                owner.handle(self, method, raw)

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_PUT(self) -> None:
                self._dispatch("PUT")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def handle(self, handler, method: str, raw: bytes) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class GeminiServer(_Server):
    """Modes: ok, thoughts, prompt_block, output_block, rate_limited_once, error_500, bad_key, slow."""

    slow_seconds = 3.0

    def handle(self, handler, method: str, raw: bytes) -> None:
        path = handler.path.split("?")[0]
        if (
            method != "POST"
            or not path.endswith(":generateContent")
            or not path.startswith(("/v1/", "/v1beta/"))
        ):
            handler.reply(404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})
            return
        self.calls += 1
        body = json.loads(raw or b"{}")
        aspect = body.get("generationConfig", {}).get("imageConfig", {}).get("aspectRatio", "1:1")
        image = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png_for(aspect)).decode()}}
        usage = {
            "promptTokenCount": 12,
            "candidatesTokenCount": 1290,
            "totalTokenCount": 1502,
            "thoughtsTokenCount": 200,
        }
        mode = self.mode
        if mode == "rate_limited_once":
            if self.calls == 1:
                handler.reply(
                    429,
                    {
                        "error": {
                            "code": 429,
                            "message": "You exceeded your current quota",
                            "status": "RESOURCE_EXHAUSTED",
                            "details": [
                                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
                            ],
                        }
                    },
                )
                return
            mode = "ok"
        if mode == "error_500":
            handler.reply(
                500,
                {"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}},
            )
        elif mode == "bad_key":
            handler.reply(
                400,
                {
                    "error": {
                        "code": 400,
                        "message": "API key not valid. Please pass a valid API key.",
                        "status": "INVALID_ARGUMENT",
                        "details": [
                            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
                        ],
                    }
                },
            )
        elif mode == "prompt_block":
            handler.reply(
                200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage}
            )
        elif mode == "output_block":
            handler.reply(
                200,
                {
                    "candidates": [
                        {"content": {"role": "model"}, "finishReason": "IMAGE_SAFETY", "index": 0}
                    ],
                    "usageMetadata": usage,
                },
            )
        else:
            if mode == "slow":
                time.sleep(self.slow_seconds)
            parts = [image]
            if mode == "thoughts":
                thought = {
                    "inlineData": {
                        "mimeType": "image/png",
                        "data": base64.b64encode(png_for(aspect, (255, 0, 0))).decode(),
                    },
                    "thought": True,
                }
                parts = [{"text": "thinking", "thought": True}, thought, {"text": "Here you go"}, image]
            handler.reply(
                200,
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
                    ],
                    "usageMetadata": usage,
                    "modelVersion": "gemini-3-pro-image-preview-001",
                    "responseId": uuid.uuid4().hex,
                },
            )


class FalServer(_Server):
    """Modes: ok, slow (stays in progress), error_422, policy, error_503, nsfw, data_uri, wrong_type, huge."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, dict] = {}
        self.cancelled: list[str] = []
        self.fetched_inputs: list[dict] = []

    def handle(self, handler, method: str, raw: bytes) -> None:
        path = handler.path.split("?")[0]
        if method == "POST" and path.startswith("/fal-ai/"):
            self.calls += 1
            if handler.headers.get("Authorization") != "Key fal-test-key":
                handler.reply(401, {"detail": "Unauthorized"})
                return
            if self.mode == "error_422":
                handler.reply(
                    422, {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]}
                )
                return
            if self.mode == "policy":
                handler.reply(
                    422,
                    {
                        "detail": [
                            {
                                "loc": ["body", "prompt"],
                                "msg": "Content policy violation",
                                "type": "content_policy_violation",
                            }
                        ]
                    },
                )
                return
            if self.mode == "error_503":
                handler.reply(
                    503,
                    {"detail": "Runner disconnected", "error_type": "runner_disconnected"},
                    headers={"X-Fal-Error-Type": "runner_disconnected"},
                )
                return
            body = json.loads(raw or b"{}")
            for url in body.get("image_urls") or []:
                import requests

                fetched = requests.get(url, timeout=10)
                self.fetched_inputs.append(
                    {
                        "url": url,
                        "status": fetched.status_code,
                        "type": fetched.headers.get("Content-Type"),
                        "body": fetched.content,
                    }
                )
            request_id = uuid.uuid4().hex
            self.jobs[request_id] = {"polls": 0, "body": body}
            base = f"{self.url}/fal-ai/flux-2/requests/{request_id}"
            handler.reply(
                200,
                {
                    "request_id": request_id,
                    "status": "IN_QUEUE",
                    "queue_position": 2,
                    "status_url": f"{base}/status",
                    "response_url": base,
                    "cancel_url": f"{base}/cancel",
                },
            )
            return
        parts = path.strip("/").split("/")
        if len(parts) >= 4 and parts[2] == "requests":
            request_id = parts[3]
            job = self.jobs.get(request_id)
            if job is None:
                handler.reply(404, {"detail": "Request not found"})
                return
            if len(parts) == 5 and parts[4] == "cancel" and method == "PUT":
                self.cancelled.append(request_id)
                job["cancelled"] = True
                handler.reply(202, {"status": "CANCELLATION_REQUESTED"})
                return
            if len(parts) == 5 and parts[4] == "status":
                job["polls"] += 1
                polls = job["polls"]
                if job.get("cancelled"):
                    handler.reply(
                        200,
                        {
                            "status": "COMPLETED",
                            "logs": None,
                            "error": "Cancelled",
                            "error_type": "cancelled",
                        },
                    )
                elif polls <= 2:
                    handler.reply(202, {"status": "IN_QUEUE", "queue_position": 2 - polls, "logs": None})
                elif polls <= 4 or self.mode == "slow":
                    handler.reply(
                        200,
                        {
                            "status": "IN_PROGRESS",
                            "logs": [
                                {
                                    "message": f"step {polls}",
                                    "level": "INFO",
                                    "source": "user",
                                    "timestamp": "now",
                                }
                            ],
                        },
                    )
                else:
                    handler.reply(
                        200, {"status": "COMPLETED", "logs": None, "metrics": {"inference_time": 0.9}}
                    )
                return
            aspect = job["body"].get("image_size")
            png = png_for("1:1" if isinstance(aspect, str) else "16:9")
            url = f"{self.url}/files/{request_id}.png"
            if self.mode == "data_uri":
                url = "data:image/png;base64," + base64.b64encode(png).decode()
            handler.reply(
                200,
                {
                    "images": [{"url": url, "width": 1024, "height": 1024, "content_type": "image/png"}],
                    "seed": job["body"].get("seed", 42),
                    "has_nsfw_concepts": [self.mode == "nsfw"],
                    "prompt": job["body"].get("prompt"),
                    "timings": {"inference": 0.9},
                },
            )
            return
        if path.startswith("/files/"):
            if self.mode == "wrong_type":
                handler.reply(200, b"<html>not an image</html>", content_type="text/html")
            elif self.mode == "huge":
                handler.reply(200, b"\x89PNG" + b"\0" * 300_000, content_type="image/png")
            else:
                handler.reply(200, png_for("1:1"), content_type="image/png")
            return
        handler.reply(404, {"detail": "Not found"})
