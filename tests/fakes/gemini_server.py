"""A local server speaking Gemini's ``generateContent`` wire protocol, for the real google-genai
client (shared/research/providers.md, section 1).

``POST /{v1|v1beta}/models/{model}:generateContent`` with the key in ``x-goog-api-key``; answers
are camelCase JSON with base64 ``inlineData`` PNGs of the requested aspect ratio (Pillow, scaled
down by ``downscale`` to keep tests fast). Errors use Google's ``{"error": {...}}`` body. A wrong
key gets the real 400 ``API_KEY_INVALID``. ``GET /{version}/models/{model}`` (``models.get``)
answers the model resource. A model not in ``models`` (by default the image models that exist
in December 2026; ``gemini-3-pro-image-preview`` was shut down on 2026-06-25) gets the API's
404 ``NOT_FOUND`` body, on both calls. (The SDK itself sends inline request images as
``mime_type`` + URL-safe base64, which the real API's proto-JSON parser accepts.)

Text answers (image analysis) come from ``answer(...)`` and ``text_block(...)``, on
``:generateContent`` (one JSON body) and on ``:streamGenerateContent?alt=sse`` (what
``generate_content_stream`` calls): a ``text/event-stream`` of ``data: {GenerateContentResponse}``
events with chunked transfer encoding, one per text chunk, the last one carrying ``finishReason``;
usage metadata rides on every event, as the API sends it. An error (429, 500…) is the HTTP status
and Google's error body before any event; a blocked question is a single event with
``promptFeedback``.

Script the next answers with ``script(...)`` (one behaviour per request, in order; ``default``
when the script runs out) using the builders below; read what arrived in ``requests``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import deque

from generation.providers.sizes import dimensions_for
from tests.fakes.http import LocalHTTPServer, png

FINAL_COLOR = (30, 120, 220)
THOUGHT_COLOR = (220, 30, 30)
USAGE = {
    "promptTokenCount": 12,
    "candidatesTokenCount": 1290,
    "totalTokenCount": 1502,
    "thoughtsTokenCount": 200,
    "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}],
}
MODEL_VERSION = "gemini-3-pro-image-001"
TEXT_MODEL_VERSION = "gemini-3.5-flash-001"
LIVE_MODELS = (
    "gemini-3-pro-image",
    "gemini-3.1-flash-image",
    "gemini-2.5-flash-image",
    "gemini-3.5-flash",
    "gemini-3.8-flash",
)


class GeminiServer(LocalHTTPServer):
    """Gemini's generateContent. ``script(GeminiServer.ok(thoughts=2), GeminiServer.error(500))``."""

    def __init__(self, api_key: str = "g-test-key", downscale: int = 16) -> None:
        super().__init__()
        self.api_key = api_key
        self.downscale = downscale
        self.default: dict = self.ok()
        self.models: set[str] = set(LIVE_MODELS)
        self._script: deque[dict] = deque()

    # -- behaviours -----------------------------------------------------------------------------------

    @staticmethod
    def ok(*, thoughts: int = 0, finals: int = 1, text: str | None = "Here is your image.", delay: float = 0):
        """An image answer; ``thoughts`` interim thought images (red) come first, the last of
        ``finals`` non-thought images is blue (earlier ones green)."""
        return {"kind": "ok", "thoughts": thoughts, "finals": finals, "text": text, "delay": delay}

    @staticmethod
    def prompt_block(reason: str = "PROHIBITED_CONTENT", message: str | None = None):
        return {"kind": "prompt_block", "reason": reason, "message": message}

    @staticmethod
    def output_block(
        finish_reason: str = "IMAGE_SAFETY", text: str | None = None, thought_image: bool = False
    ):
        return {"kind": "output_block", "finish": finish_reason, "text": text, "thought_image": thought_image}

    @staticmethod
    def error(code: int = 500, status: str = "INTERNAL", message: str | None = None, details=None):
        message = message or {
            500: "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
            503: "The model is overloaded. Please try again later.",
        }.get(code, "Request failed.")
        body: dict = {"error": {"code": code, "message": message, "status": status}}
        if details is not None:
            body["error"]["details"] = details
        return {"kind": "error", "code": code, "body": body}

    @staticmethod
    def rate_limited(retry_delay: str | None = "7s", quota_value: str = "10"):
        """A 429 as Google sends it: QuotaFailure (``quota_value`` "0" = the key's tier has no
        quota for the model), Help, and RetryInfo when ``retry_delay`` is given."""
        details: list[dict] = [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                        "quotaDimensions": {"location": "global", "model": "gemini-3-pro-image"},
                        "quotaValue": quota_value,
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Learn more"}]},
        ]
        if retry_delay is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
        return GeminiServer.error(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
            details,
        )

    @staticmethod
    def answer(*chunks: str, finish: str = "STOP", delay: float = 0.0, thought: str | None = None):
        """A text answer in ``chunks`` (streamed one event each, ``delay`` seconds apart; joined in
        one body when not streamed), ending with ``finish`` (``STOP``, ``MAX_TOKENS``, ``OTHER``…);
        ``thought`` adds a thought summary part first, which clients must not show."""
        return {"kind": "text", "chunks": list(chunks), "finish": finish, "delay": delay, "thought": thought}

    @staticmethod
    def text_block(*chunks: str, finish: str = "SAFETY", delay: float = 0.0):
        """An answer the model stops for safety after ``chunks``: the last event has the safety
        ``finishReason`` and the offending rating with ``blocked: true``. (The Gemini API sends no
        ``finishMessage``; google-genai maps it only from Vertex AI.)"""
        return {
            "kind": "text",
            "chunks": list(chunks),
            "finish": finish,
            "delay": delay,
            "thought": None,
            "blocked": True,
        }

    @staticmethod
    def raw(code: int, body: bytes, content_type: str = "text/html"):
        """A non-JSON answer, as a proxy in front of the API might give."""
        return {"kind": "raw", "code": code, "body": body, "type": content_type}

    def script(self, *behaviours: dict) -> GeminiServer:
        self._script.extend(behaviours)
        return self

    @property
    def model_gets(self) -> list[dict]:
        """The models.get requests received."""
        return [r for r in self.requests if r["method"] == "GET"]

    @property
    def calls(self) -> list[dict]:
        """The generateContent requests received."""
        return [
            r for r in self.requests if r["path"].endswith((":generateContent", ":streamGenerateContent"))
        ]

    @property
    def stream_calls(self) -> list[dict]:
        """The streamGenerateContent requests received."""
        return [r for r in self.requests if r["path"].endswith(":streamGenerateContent")]

    # -- serving --------------------------------------------------------------------------------------

    @staticmethod
    def _bad_key() -> dict:
        return {
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    }
                ],
            }
        }

    @staticmethod
    def _image_part(size: tuple[int, int], color, *, thought: bool = False) -> dict:
        part: dict = {
            "inlineData": {"mimeType": "image/png", "data": base64.b64encode(png(size, color)).decode()}
        }
        if thought:
            part["thought"] = True
        else:
            part["thoughtSignature"] = base64.b64encode(b"signature").decode()
        return part

    @staticmethod
    def _unknown_model(version: str, model: str) -> dict:
        """The API's answer for a model that does not exist (or was shut down)."""
        return {
            "error": {
                "code": 404,
                "message": f"models/{model} is not found for API version {version}, or is not supported "
                "for generateContent. Call ListModels to see the list of available models and their "
                "supported methods.",
                "status": "NOT_FOUND",
            }
        }

    @staticmethod
    def _model_resource(model: str) -> dict:
        return {
            "name": f"models/{model}",
            "version": "001",
            "displayName": model.replace("-", " ").title(),
            "inputTokenLimit": 65536,
            "outputTokenLimit": 32768,
            "supportedGenerationMethods": ["generateContent", "countTokens", "batchGenerateContent"],
            "temperature": 1,
            "topP": 0.95,
            "maxTemperature": 2,
            "thinking": True,
        }

    def handle(self, handler, record: dict) -> None:
        path = record["path"]
        version, _, rest = path.lstrip("/").partition("/")
        model, _, method = rest.removeprefix("models/").partition(":")
        known = (
            version in ("v1", "v1beta")
            and rest.startswith("models/")
            and (
                (record["method"] == "POST" and method == "generateContent")
                or (
                    record["method"] == "POST"
                    and method == "streamGenerateContent"
                    and record["query"].get("alt") == "sse"
                )
                or (record["method"] == "GET" and not method)
            )
        )
        if not known:
            handler.reply(
                404, {"error": {"code": 404, "message": f"Not found: {path}", "status": "NOT_FOUND"}}
            )
            return
        if record["headers"].get("x-goog-api-key") != self.api_key:
            handler.reply(400, self._bad_key())
            return
        if model not in self.models:
            handler.reply(404, self._unknown_model(version, model))
            return
        if record["method"] == "GET":
            handler.reply(200, self._model_resource(model))
            return
        behaviour = self._script.popleft() if self._script else self.default
        body = record["json"] or {}
        image_config = (body.get("generationConfig") or {}).get("imageConfig") or {}
        width, height = dimensions_for(
            image_config.get("aspectRatio", "1:1"), image_config.get("imageSize", "1K")
        )
        size = (width // self.downscale, height // self.downscale)
        kind = behaviour["kind"]
        streaming = method == "streamGenerateContent"
        if kind == "text":
            self._text(handler, behaviour, streaming)
            return
        if behaviour.get("delay"):
            time.sleep(behaviour["delay"])
        if streaming and kind == "prompt_block":
            feedback = {"blockReason": behaviour["reason"]}
            self._sse(
                handler,
                [
                    {
                        "promptFeedback": feedback,
                        "usageMetadata": {"promptTokenCount": 12},
                        "modelVersion": MODEL_VERSION,
                    }
                ],
                0,
            )
        elif kind == "error":
            handler.reply(behaviour["code"], behaviour["body"])
        elif kind == "raw":
            handler.reply(behaviour["code"], behaviour["body"], content_type=behaviour["type"])
        elif kind == "prompt_block":
            feedback = {"blockReason": behaviour["reason"]}
            if behaviour["message"]:
                feedback["blockReasonMessage"] = behaviour["message"]
            handler.reply(200, {"promptFeedback": feedback, "usageMetadata": {"promptTokenCount": 12}})
        elif kind == "output_block":
            content: dict = {"role": "model"}
            parts = []
            if behaviour["thought_image"]:
                parts.append(self._image_part(size, THOUGHT_COLOR, thought=True))
            if behaviour["text"]:
                parts.append({"text": behaviour["text"]})
            if parts:
                content["parts"] = parts
            candidate = {"content": content, "finishReason": behaviour["finish"], "index": 0}
            handler.reply(
                200, {"candidates": [candidate], "usageMetadata": USAGE, "modelVersion": MODEL_VERSION}
            )
        else:
            parts = []
            if behaviour["thoughts"]:
                parts.append({"text": "**Composing** the scene.", "thought": True})
                parts += [
                    self._image_part(size, THOUGHT_COLOR, thought=True) for _ in range(behaviour["thoughts"])
                ]
            if behaviour["text"]:
                parts.append({"text": behaviour["text"]})
            for index in range(behaviour["finals"]):
                last = index == behaviour["finals"] - 1
                parts.append(self._image_part(size, FINAL_COLOR if last else (40, 160, 60)))
            handler.reply(
                200,
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
                    ],
                    "usageMetadata": USAGE,
                    "modelVersion": MODEL_VERSION,
                    "responseId": uuid.uuid4().hex,
                },
            )

    # -- text answers ----------------------------------------------------------------------------------

    @staticmethod
    def _text_event(
        text: str | None, index: int, behaviour: dict, *, last: bool, thought: bool = False
    ) -> dict:
        candidate: dict = {"index": 0}
        if text is not None:
            part: dict = {"text": text}
            if thought:
                part["thought"] = True
            candidate["content"] = {"role": "model", "parts": [part]}
        if last:
            candidate["finishReason"] = behaviour["finish"]
            if behaviour.get("blocked"):
                candidate["safetyRatings"] = [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
                ]
        return {
            "candidates": [candidate],
            "usageMetadata": {
                "promptTokenCount": 1300,
                "candidatesTokenCount": 7 * (index + 1),
                "totalTokenCount": 1300 + 7 * (index + 1),
            },
            "modelVersion": TEXT_MODEL_VERSION,
            "responseId": "text-answer",
        }

    def _text(self, handler, behaviour: dict, streaming: bool) -> None:
        chunks = behaviour["chunks"]
        if not streaming:
            if behaviour["delay"]:
                time.sleep(behaviour["delay"] * max(1, len(chunks)))
            body = self._text_event("".join(chunks) if chunks else None, len(chunks), behaviour, last=True)
            if behaviour.get("thought"):
                body["candidates"][0].setdefault("content", {"role": "model", "parts": []})["parts"].insert(
                    0, {"text": behaviour["thought"], "thought": True}
                )
            handler.reply(200, body)
            return
        events = []
        if behaviour.get("thought"):
            events.append(self._text_event(behaviour["thought"], 0, behaviour, last=False, thought=True))
        for index, chunk in enumerate(chunks):
            events.append(self._text_event(chunk, index, behaviour, last=index == len(chunks) - 1))
        if not chunks:  # a stream that ends with no text at all
            events.append(self._text_event(None, 0, behaviour, last=True))
        self._sse(handler, events, behaviour["delay"])

    def _sse(self, handler, events: list[dict], delay: float) -> None:
        """``text/event-stream`` with chunked transfer encoding, one ``data:`` event at a time."""
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for index, event in enumerate(events):
                if index and delay:
                    time.sleep(delay)
                data = f"data: {json.dumps(event)}\r\n\r\n".encode()
                handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.disconnected += 1
