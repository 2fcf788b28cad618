"""GeminiProvider through the real google-genai client against a local generateContent server."""

from __future__ import annotations

import base64
import io
import socket
import time

import pytest
from google.genai import errors
from PIL import Image

from generation.providers.base import Cancelled, ErrorCode, GenerationRequest, ProviderError
from generation.providers.gemini import GeminiProvider
from generation.providers.sizes import dimensions_for
from generation.registry import ASPECT_RATIOS
from tests.fakes.gemini_server import FINAL_COLOR, MODEL_VERSION, GeminiServer
from tests.fakes.http import png

MODEL = "gemini-3-pro-image"


@pytest.fixture
def server():
    with GeminiServer() as running:
        yield running


def gemini(server, *, api_version="v1beta", timeout=30.0, api_key="g-test-key") -> GeminiProvider:
    return GeminiProvider(api_key=api_key, base_url=server.url, api_version=api_version, timeout=timeout)


def make(aspect="1:1", **kwargs) -> GenerationRequest:
    kwargs.setdefault("prompt", "a red fox in the snow")
    kwargs.setdefault("provider_model", MODEL)
    return GenerationRequest(aspect_ratio=aspect, **kwargs)


def failure(provider: GeminiProvider, request: GenerationRequest | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        provider.generate(request or make())
    return raised.value


def inline(part: dict) -> tuple[str, bytes]:
    """(mime type, bytes) of an inline data part. The SDK sends ``mime_type`` and URL-safe base64,
    which the API's proto-JSON parser accepts like ``mimeType`` and standard base64."""
    blob = part["inlineData"]
    return blob.get("mimeType") or blob.get("mime_type"), base64.urlsafe_b64decode(blob["data"])


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


# --- success ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("aspect", ASPECT_RATIOS)
def test_success_for_every_aspect_ratio(server, aspect):
    reports: list[dict] = []
    result = gemini(server).generate(make(aspect, image_size="2K"), report=lambda **kw: reports.append(kw))
    image = decode(result.data)
    width, height = dimensions_for(aspect, "2K")
    assert image.size == (width // 16, height // 16)  # the server drew what was asked for
    assert result.mime == "image/png" and result.model_version == MODEL_VERSION
    (call,) = server.calls
    assert call["path"] == f"/v1beta/models/{MODEL}:generateContent"
    assert call["query"] == {}
    assert call["headers"]["x-goog-api-key"] == "g-test-key"
    body = call["json"]
    assert body["contents"] == [{"parts": [{"text": "a red fox in the snow"}], "role": "user"}]
    assert body["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": aspect, "imageSize": "2K"}
    assert reports and reports[0]["stage"] == "generating"
    assert [r["progress"] for r in reports] == sorted(r["progress"] for r in reports)


@pytest.mark.parametrize("api_version", ["v1", "v1beta"])
def test_the_configured_api_version_is_in_the_path(server, api_version):
    gemini(server, api_version=api_version).generate(make("16:9"))
    assert server.calls[-1]["path"] == f"/{api_version}/models/{MODEL}:generateContent"
    image_config = server.calls[-1]["json"]["generationConfig"]["imageConfig"]
    assert image_config == {"aspectRatio": "16:9", "imageSize": "1K"}


def test_usage_and_model_version_are_recorded(server):
    result = gemini(server).generate(make())
    assert result.usage == {
        "prompt_tokens": 12,
        "output_tokens": 1290,
        "thought_tokens": 200,
        "total_tokens": 1502,
        "image_tokens": 1290,
    }
    assert result.model_version == MODEL_VERSION


def test_thought_images_are_skipped_and_the_last_image_wins(server):
    server.script(GeminiServer.ok(thoughts=2), GeminiServer.ok(finals=2, text=None))
    first = gemini(server).generate(make())
    assert decode(first.data).getpixel((0, 0)) == FINAL_COLOR  # not the red thought images
    second = gemini(server).generate(make())
    assert decode(second.data).getpixel((0, 0)) == FINAL_COLOR  # the last of two answer images


def test_edit_sends_the_image_and_the_mask_as_inline_parts(server):
    source, mask = png((40, 30), (1, 2, 3)), png((40, 30), (255, 255, 255))
    gemini(server).generate(make("4:3", prompt="put a hat on the fox", source_image=source, mask=mask))
    parts = server.calls[-1]["json"]["contents"][0]["parts"]
    assert len(parts) == 3
    assert "put a hat on the fox" in parts[0]["text"] and "white" in parts[0]["text"]
    assert inline(parts[1]) == ("image/png", source)
    assert inline(parts[2]) == ("image/png", mask)

    gemini(server).generate(make("4:3", prompt="make it night", source_image=source))
    parts = server.calls[-1]["json"]["contents"][0]["parts"]
    assert len(parts) == 2 and "make it night" in parts[0]["text"] and "mask" not in parts[0]["text"]
    assert inline(parts[1]) == ("image/png", source)


def test_availability_follows_the_key(server):
    assert gemini(server).is_available()
    unconfigured = gemini(server, api_key="")
    assert not unconfigured.is_available()
    assert failure(unconfigured).code == ErrorCode.PROVIDER_UNAVAILABLE
    assert server.requests == []


# --- blocks ----------------------------------------------------------------------------------------


def test_blocked_prompt_is_content_blocked_naming_the_reason(server):
    server.script(GeminiServer.prompt_block("PROHIBITED_CONTENT"))
    error = failure(gemini(server))
    assert error.code == ErrorCode.CONTENT_BLOCKED and not error.retryable
    assert "PROHIBITED_CONTENT" in error.message and "prohibit" in error.message


@pytest.mark.parametrize(
    "finish", ["IMAGE_SAFETY", "SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"]
)
def test_blocked_output_is_content_blocked(server, finish):
    server.script(GeminiServer.output_block(finish))
    error = failure(gemini(server))
    assert error.code == ErrorCode.CONTENT_BLOCKED and not error.retryable
    assert finish in error.message


def test_answers_without_an_image_are_readable_errors(server):
    server.script(
        GeminiServer.output_block("NO_IMAGE", text="I can only describe this scene."),
        GeminiServer.output_block("STOP", thought_image=True),  # only a thought image
        GeminiServer.output_block("IMAGE_OTHER"),
    )
    no_image = failure(gemini(server))
    assert no_image.code == ErrorCode.INVALID_REQUEST and "without an image" in no_image.message
    # the model's words may echo the prompt: kept apart from the (plaintext-stored) message
    assert no_image.detail == "I can only describe this scene." and "describe" not in no_image.message
    only_thoughts = failure(gemini(server))
    assert only_thoughts.code == ErrorCode.INVALID_REQUEST and "without an image" in only_thoughts.message
    other = failure(gemini(server))
    assert other.code == ErrorCode.CONTENT_BLOCKED and "IMAGE_OTHER" in other.message
    assert len(server.calls) == 3  # none of these is called again


@pytest.mark.parametrize(
    "finish",
    [
        "MALFORMED_RESPONSE",
        "OTHER",
        "MISSING_THOUGHT_SIGNATURE",
        "LANGUAGE",
        "TOO_MANY_TOOL_CALLS",
        "NEW_REASON",
    ],
)
def test_a_glitch_is_called_once_more_and_then_a_plain_provider_error(server, finish):
    server.script(GeminiServer.output_block(finish), GeminiServer.output_block(finish))
    error = failure(gemini(server))
    assert error.code == ErrorCode.PROVIDER_UNAVAILABLE and not error.retryable  # never content_blocked
    assert finish in error.message and "refused" not in error.message
    assert len(server.calls) == 2


def test_a_glitch_then_an_image_succeeds(server):
    server.script(GeminiServer.output_block("MALFORMED_RESPONSE"))
    result = gemini(server).generate(make())
    assert decode(result.data).getpixel((0, 0)) == FINAL_COLOR and len(server.calls) == 2


# --- errors ----------------------------------------------------------------------------------------


def test_429_with_a_quota_of_zero_is_quota_exceeded_at_once(server):
    server.script(GeminiServer.rate_limited("30s", quota_value="0"))
    error = failure(gemini(server))
    assert error.code == ErrorCode.QUOTA_EXCEEDED and not error.retryable and error.retry_after is None
    assert "billing" in error.message and MODEL in error.message
    assert len(server.calls) == 1


def test_429_is_retryable_quota_exceeded_with_the_retry_delay_and_no_sdk_retry(server):
    server.script(GeminiServer.rate_limited("7s"), GeminiServer.rate_limited(None))
    error = failure(gemini(server))
    assert error.code == ErrorCode.QUOTA_EXCEEDED and error.retryable and error.retry_after == 7.0
    assert len(server.calls) == 1  # the SDK did not retry on its own
    error = failure(gemini(server))
    assert error.code == ErrorCode.QUOTA_EXCEEDED and error.retry_after is None
    assert gemini(server).generate(make()).data  # the next attempt succeeds
    assert len(server.calls) == 3


def test_persistent_500_is_retryable_provider_unavailable(server):
    server.default = GeminiServer.error(500)
    for _ in range(2):
        error = failure(gemini(server))
        assert error.code == ErrorCode.PROVIDER_UNAVAILABLE and error.retryable
    assert len(server.calls) == 2  # one request per attempt


def test_503_and_a_non_json_502_are_retryable(server):
    server.script(GeminiServer.error(503, "UNAVAILABLE"), GeminiServer.raw(502, b"<html>Bad Gateway</html>"))
    for _ in range(2):
        error = failure(gemini(server))
        assert error.code == ErrorCode.PROVIDER_UNAVAILABLE and error.retryable


def test_bad_key_is_provider_unavailable_and_not_retryable(server):
    error = failure(gemini(server, api_key="wrong-key"))
    assert error.code == ErrorCode.PROVIDER_UNAVAILABLE and not error.retryable
    assert "key" in error.message
    assert server.calls[-1]["headers"]["x-goog-api-key"] == "wrong-key"


def test_other_client_errors_are_invalid_request(server):
    server.script(GeminiServer.error(400, "INVALID_ARGUMENT", "Unsupported image size 8K."))
    error = failure(gemini(server))
    assert error.code == ErrorCode.INVALID_REQUEST and not error.retryable
    assert "Unsupported image size 8K." in error.message


def test_a_shut_down_model_is_unavailable_and_reported_missing_at_once(server):
    provider = gemini(server)
    missing: list[tuple[str, str]] = []
    provider.on_model_missing = lambda model, reason: missing.append((model, reason))
    error = failure(provider, make(provider_model="gemini-3-pro-image-preview"))
    assert error.code == ErrorCode.PROVIDER_UNAVAILABLE and not error.retryable
    assert "404" in error.message and "gemini-3-pro-image-preview" in error.message
    assert missing == [("gemini-3-pro-image-preview", error.message)]
    (call,) = server.calls
    assert call["path"] == "/v1beta/models/gemini-3-pro-image-preview:generateContent"


@pytest.mark.parametrize("api_version", ["v1", "v1beta"])
def test_check_model_asks_models_get(server, api_version):
    provider = gemini(server, api_version=api_version)
    assert provider.check_model("gemini-3-pro-image") is None
    assert provider.check_model("gemini-3.1-flash-image") is None
    reason = provider.check_model("gemini-3-pro-image-preview")
    assert reason and "404" in reason and "gemini-3-pro-image-preview" in reason
    assert [r["path"] for r in server.model_gets] == [
        f"/{api_version}/models/gemini-3-pro-image",
        f"/{api_version}/models/gemini-3.1-flash-image",
        f"/{api_version}/models/gemini-3-pro-image-preview",
    ]
    assert server.calls == []  # nothing generated, nothing paid


def test_check_model_raises_on_other_failures_and_skips_without_a_key(server):
    assert gemini(server, api_key="").check_model(MODEL) is None and server.requests == []
    with pytest.raises(errors.ClientError):  # a wrong key says nothing about the model
        gemini(server, api_key="wrong").check_model(MODEL)


def test_unreachable_server_is_retryable_provider_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = GeminiProvider(
        api_key="k", base_url=f"http://127.0.0.1:{port}", api_version="v1beta", timeout=5
    )
    error = failure(provider)
    assert error.code == ErrorCode.PROVIDER_UNAVAILABLE and error.retryable


def test_slow_answer_beyond_the_timeout_is_a_retryable_provider_timeout(server):
    server.default = GeminiServer.ok(delay=3)
    started = time.monotonic()
    error = failure(gemini(server, timeout=1))
    assert error.code == ErrorCode.PROVIDER_TIMEOUT and error.retryable
    assert time.monotonic() - started < 2.5
    assert server.calls[-1]["headers"].get("x-server-timeout") == "1"


def test_request_timeout_below_the_provider_timeout_wins(server):
    server.default = GeminiServer.ok(delay=3)
    error = failure(gemini(server, timeout=60), make(timeout=1))
    assert error.code == ErrorCode.PROVIDER_TIMEOUT


# --- cancellation ----------------------------------------------------------------------------------


def test_cancel_while_the_call_is_slow_raises_cancelled_promptly(server):
    """The user cancels once the request has reached Gemini: the call gives up without waiting
    for the answer (the double holds it for 8 s), and no second request is sent."""
    server.default = GeminiServer.ok(delay=8)
    started = time.monotonic()
    with pytest.raises(Cancelled) as raised:
        gemini(server).generate(make(), is_cancelled=lambda: len(server.calls) > 0)
    assert raised.value.code == ErrorCode.CANCELLED
    assert time.monotonic() - started < 8  # returned before Gemini answered
    assert len(server.calls) == 1  # the request had gone out; Gemini has no cancel API


def test_cancelled_before_the_call_sends_nothing(server):
    with pytest.raises(Cancelled):
        gemini(server).generate(make(), is_cancelled=lambda: True)
    assert server.requests == []
