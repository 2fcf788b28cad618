"""FalProvider (our requests code) against a local server speaking fal's queue protocol."""

from __future__ import annotations

import base64
import io
import socket
import threading
import time

import pytest
from PIL import Image

from generation.providers.base import Cancelled, ErrorCode, GenerationRequest, ProviderError
from generation.providers.fal import FalProvider
from generation.providers.sizes import dimensions_for
from tests.fakes.fal_server import IMAGE_COLOR, FalServer
from tests.fakes.http import png

MODEL = "fal-ai/flux-2/klein/9b/base"


@pytest.fixture
def server():
    with FalServer() as running:
        yield running


def fal(server, *, timeout=30.0, api_key="fal-test-key", max_bytes=200_000, base_url=None) -> FalProvider:
    return FalProvider(
        api_key=api_key,
        queue_base_url=base_url or server.url,
        run_base_url=base_url or server.url,
        timeout=timeout,
        poll_interval=0.02,
        max_download_bytes=max_bytes,
    )


def make(aspect="1:1", **kwargs) -> GenerationRequest:
    kwargs.setdefault("prompt", "a lighthouse in a storm")
    kwargs.setdefault("provider_model", MODEL)
    return GenerationRequest(aspect_ratio=aspect, **kwargs)


def failure(provider: FalProvider, request: GenerationRequest | None = None, **kwargs) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        provider.generate(request or make(), **kwargs)
    return raised.value


def cancel_after(seconds: float) -> threading.Event:
    event = threading.Event()
    threading.Timer(seconds, event.set).start()
    return event


# --- success ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aspect", "image_size", "pixels"),
    [
        ("1:1", "square_hd", (1024, 1024)),
        ("4:3", "landscape_4_3", (1024, 768)),
        ("3:4", "portrait_4_3", (768, 1024)),
        ("16:9", "landscape_16_9", (1024, 576)),
        ("9:16", "portrait_16_9", (576, 1024)),
        ("2:3", {"width": 832, "height": 1248}, (832, 1248)),
        ("21:9", {"width": 1568, "height": 672}, (1568, 672)),
        ("5:4", {"width": 1120, "height": 896}, (1120, 896)),
    ],
)
def test_success_maps_the_aspect_ratio_and_sends_fals_input(server, aspect, image_size, pixels):
    result = fal(server).generate(make(aspect, seed=77))
    (submit,) = server.submitted()
    assert submit["path"] == f"/{MODEL}"
    assert submit["headers"]["authorization"] == "Key fal-test-key"
    assert submit["headers"]["content-type"] == "application/json"
    assert submit["json"] == {
        "prompt": "a lighthouse in a storm",
        "image_size": image_size,
        "seed": 77,
        "output_format": "png",
        "num_images": 1,
        "enable_safety_checker": True,
    }
    if isinstance(image_size, dict):
        assert (image_size["width"], image_size["height"]) == dimensions_for(aspect)
    image = Image.open(io.BytesIO(result.data))
    assert (
        image.size == (pixels[0] // 16, pixels[1] // 16)
        and image.convert("RGB").getpixel((0, 0)) == IMAGE_COLOR
    )
    assert result.mime == "image/png" and result.seed == 77
    assert result.usage["megapixels"] == round(pixels[0] * pixels[1] / 1e6, 3)


def test_polling_follows_the_returned_urls_and_the_download_gets_no_key(server):
    fal(server).generate(make())
    (job_id,) = server.jobs
    statuses = [r for r in server.requests if r["path"].endswith("/status")]
    # status/result URLs are keyed by owner/alias only, as fal's queue gives them
    assert {r["path"] for r in statuses} == {f"/fal-ai/flux-2/requests/{job_id}/status"}
    assert all(r["query"] == {"logs": "1"} for r in statuses)
    assert all(r["headers"]["authorization"] == "Key fal-test-key" for r in statuses)
    assert len(statuses) == 3 + 2 + 1  # three queue positions, two running polls, completed
    result_fetch = [r for r in server.requests if r["path"] == f"/fal-ai/flux-2/requests/{job_id}"]
    assert len(result_fetch) == 1 and result_fetch[0]["method"] == "GET"
    (download,) = [r for r in server.requests if r["path"].startswith("/files/")]
    assert "authorization" not in download["headers"]


def test_no_seed_sends_none_and_returns_the_providers(server):
    result = fal(server).generate(make())
    assert "seed" not in server.submitted()[0]["json"]
    assert result.seed == 1234567


def test_queue_positions_and_progress_are_reported_in_order(server):
    reports: list[dict] = []
    fal(server).generate(make(), report=lambda **kw: reports.append(kw))
    (job_id,) = server.jobs
    assert reports[0]["provider_request_id"] == job_id
    queued = [r["queue_position"] for r in reports if r["stage"] == "queued"]
    assert queued == [3, 3, 2, 1]  # the submit answer, then one per IN_QUEUE poll
    generating = [r for r in reports if r["stage"] == "generating"]
    assert len(generating) >= 3 and all(r["queue_position"] is None for r in generating)
    stages = [r["stage"] for r in reports]
    assert stages.index("generating") > max(i for i, s in enumerate(stages) if s == "queued")
    progress = [r["progress"] for r in reports]
    assert progress == sorted(progress) and progress[0] < 5 and progress[-1] >= 90
    # "Step 9/28", "Step 18/28" (the /base endpoint's 28 steps) in the logs became real progress
    assert [r["progress"] for r in generating[:2]] == [42, 65]


def test_data_uri_output(server):
    server.output = "data_uri"
    result = fal(server).generate(make("16:9"))
    assert Image.open(io.BytesIO(result.data)).size == (64, 36) and result.mime == "image/png"
    assert not [r for r in server.requests if r["path"].startswith("/files/")]


def test_edit_posts_the_source_url_to_the_edit_endpoint(server):
    source_url = server.input_url("source.png", png((32, 24)))
    result = fal(server).generate(
        make("4:3", prompt="add a rainbow", source_image=b"\x89PNG", source_image_url=source_url)
    )
    (submit,) = server.submitted()
    assert submit["path"] == f"/{MODEL}/edit"
    assert submit["json"]["image_urls"] == [source_url] and submit["json"]["prompt"] == "add a rainbow"
    assert any(r["path"] == "/inputs/source.png" for r in server.requests)  # the fake fetched it like fal
    assert result.data


def test_edit_without_a_source_url_is_invalid_and_sends_nothing(server):
    error = failure(fal(server), make(source_image=b"\x89PNG"))
    assert error.code == ErrorCode.INVALID_REQUEST and not error.retryable
    assert server.requests == []


def test_edit_source_that_fal_cannot_load_is_invalid_request(server):
    error = failure(fal(server), make(source_image=b"x", source_image_url=f"{server.url}/inputs/missing.png"))
    assert error.code == ErrorCode.INVALID_REQUEST and "image_urls" in error.message


def test_availability_follows_the_key(server):
    assert fal(server).is_available()
    unconfigured = fal(server, api_key="")
    assert not unconfigured.is_available()
    assert failure(unconfigured).code == ErrorCode.PROVIDER_UNAVAILABLE
    assert server.requests == []


# --- cancel and timeout ----------------------------------------------------------------------------


@pytest.mark.parametrize("hold", ["queue", "running"])
def test_cancel_puts_cancel_upstream_and_raises_promptly(server, hold):
    server.hold = hold
    cancel = cancel_after(0.3)
    started = time.monotonic()
    with pytest.raises(Cancelled):
        fal(server).generate(make(), is_cancelled=cancel.is_set)
    assert time.monotonic() - started < 1.0
    (job_id,) = server.jobs
    assert server.cancelled == [job_id]
    # only a queued request is really stopped; a running one is merely signalled
    assert server.jobs[job_id]["cancelled"] is (hold == "queue")
    assert server.cancel_ignored == ([] if hold == "queue" else [job_id])
    (put,) = [r for r in server.requests if r["method"] == "PUT"]
    assert put["path"] == f"/fal-ai/flux-2/requests/{job_id}/cancel"
    assert put["headers"]["authorization"] == "Key fal-test-key"


def test_cancelled_before_the_submit_sends_nothing(server):
    with pytest.raises(Cancelled):
        fal(server).generate(make(), is_cancelled=lambda: True)
    assert server.requests == []  # never submitted, so never billed


def test_deadline_is_a_retryable_provider_timeout_after_a_cancel(server):
    server.hold = "running"
    started = time.monotonic()
    error = failure(fal(server, timeout=0.3))
    assert error.code == ErrorCode.PROVIDER_TIMEOUT and error.retryable
    assert 0.3 <= time.monotonic() - started < 1.3
    assert server.cancelled == list(server.jobs)


def test_request_timeout_below_the_provider_timeout_wins(server):
    server.hold = "queue"
    started = time.monotonic()
    error = failure(fal(server, timeout=600), make(timeout=0.3))
    assert error.code == ErrorCode.PROVIDER_TIMEOUT
    assert time.monotonic() - started < 1.3 and server.cancelled


# --- errors ----------------------------------------------------------------------------------------


def test_422_detail_list_is_invalid_request_with_fals_message(server):
    server.submit_error = (
        422,
        {
            "detail": [
                {"loc": ["body", "image_size"], "msg": "Width must be at most 2048", "type": "value_error"}
            ]
        },
        {},
    )
    error = failure(fal(server))
    assert error.code == ErrorCode.INVALID_REQUEST and not error.retryable
    assert "image_size: Width must be at most 2048" in error.message


def test_content_policy_violation_is_content_blocked(server):
    server.submit_error = (
        422,
        {
            "detail": [
                {
                    "loc": ["body", "prompt"],
                    "msg": "The content could not be processed: it was flagged by a content checker.",
                    "type": "content_policy_violation",
                    "url": "https://docs.fal.ai/errors#content_policy_violation",
                    "categories": ["violence"],
                }
            ]
        },
        {},
    )
    error = failure(fal(server))
    assert error.code == ErrorCode.CONTENT_BLOCKED and not error.retryable
    assert "content checker" in error.message


def test_nsfw_output_is_content_blocked(server):
    server.nsfw = True
    error = failure(fal(server))
    assert error.code == ErrorCode.CONTENT_BLOCKED
    assert not [r for r in server.requests if r["path"].startswith("/files/")]


@pytest.mark.parametrize(
    ("status", "body", "headers", "code", "retryable"),
    [
        (401, {"detail": "No user found for Key ID and Secret"}, {}, ErrorCode.PROVIDER_UNAVAILABLE, False),
        (403, {"detail": "Forbidden"}, {}, ErrorCode.PROVIDER_UNAVAILABLE, False),
        (429, {"detail": "Rate limit exceeded"}, {"Retry-After": "12"}, ErrorCode.QUOTA_EXCEEDED, True),
        (
            503,
            {"detail": "Runner disconnected", "error_type": "runner_disconnected"},
            {"X-Fal-Error-Type": "runner_disconnected"},
            ErrorCode.PROVIDER_UNAVAILABLE,
            True,
        ),
        (502, {"detail": "<html>nginx</html>"}, {}, ErrorCode.PROVIDER_UNAVAILABLE, True),
        (
            504,
            {"detail": "Request timed out", "error_type": "request_timeout"},
            {"X-Fal-Error-Type": "request_timeout"},
            ErrorCode.PROVIDER_TIMEOUT,
            True,
        ),
    ],
)
def test_http_errors_map_to_codes(server, status, body, headers, code, retryable):
    server.submit_error = (status, body, headers)
    error = failure(fal(server))
    assert (error.code, error.retryable) == (code, retryable)
    if status == 429:
        assert error.retry_after == 12.0


def test_wrong_key_is_provider_unavailable_not_retryable(server):
    error = failure(fal(server, api_key="wrong"))
    assert error.code == ErrorCode.PROVIDER_UNAVAILABLE and not error.retryable
    assert server.submitted()[0]["headers"]["authorization"] == "Key wrong"


def test_connection_refused_is_retryable(server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = failure(fal(server, base_url=f"http://127.0.0.1:{port}"))
    assert error.code == ErrorCode.PROVIDER_UNAVAILABLE and error.retryable


@pytest.mark.parametrize(
    ("failure_at_result", "code", "retryable"),
    [
        (
            (503, {"detail": "Runner disconnected", "error_type": "runner_disconnected"}, {}),
            ErrorCode.PROVIDER_UNAVAILABLE,
            True,
        ),
        (
            (504, {"detail": "Startup timed out", "error_type": "startup_timeout"}, {}),
            ErrorCode.PROVIDER_TIMEOUT,
            True,
        ),
        (
            (
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "prompt"],
                            "msg": "The content could not be processed: flagged by a content checker.",
                            "type": "content_policy_violation",
                            "url": "https://docs.fal.ai/errors#content_policy_violation",
                            "ctx": {},
                            "categories": ["violence"],
                        }
                    ]
                },
                {},
            ),
            ErrorCode.CONTENT_BLOCKED,
            False,
        ),
        (
            (
                422,
                {"detail": [{"loc": ["body", "image_urls", 0], "msg": "Unsupported format", "type": "x"}]},
                {},
            ),
            ErrorCode.INVALID_REQUEST,
            False,
        ),
    ],
)
def test_a_failure_reads_completed_and_is_mapped_from_the_response_url(
    server, failure_at_result, code, retryable
):
    server.result_error = failure_at_result
    error = failure(fal(server))
    assert (error.code, error.retryable) == (code, retryable)
    (job_id,) = server.jobs
    gets = [r["path"] for r in server.requests if r["method"] == "GET"]
    assert gets[-1] == f"/fal-ai/flux-2/requests/{job_id}"  # the outcome came from response_url
    assert not [p for p in gets if p.startswith("/files/")]


def test_an_exhausted_balance_is_quota_exceeded_not_retried_and_says_top_up(server):
    server.balance_locked = True
    error = failure(fal(server))
    assert error.code == ErrorCode.QUOTA_EXCEEDED and not error.retryable
    assert "top up" in error.message and "balance" in error.message
    assert server.jobs == {}


def test_a_model_fal_does_not_host_is_unavailable_and_reported_missing(server):
    provider = fal(server)
    missing: list[tuple[str, str]] = []
    provider.on_model_missing = lambda model, reason: missing.append((model, reason))
    error = failure(provider, make(provider_model="fal-ai/flux-2/klein/13b/base"))
    assert error.code == ErrorCode.PROVIDER_UNAVAILABLE and not error.retryable and "404" in error.message
    assert missing == [("fal-ai/flux-2/klein/13b/base", error.message)]


def test_base_endpoint_progress_and_eta_follow_its_28_steps(server):
    server.queue_positions = []
    server.running_polls = 3
    reports: list[dict] = []
    fal(server).generate(make(), report=lambda **kw: reports.append(kw))
    (job,) = server.jobs.values()
    assert job["steps"] == 28 and "num_inference_steps" not in job["body"]  # fal's default
    assert [entry["message"] for entry in job["logs"]] == ["Step 7/28", "Step 14/28", "Step 21/28"]
    running = [r for r in reports if r["stage"] == "generating" and r["progress"] < 95]
    assert [r["progress"] for r in running] == [37, 55, 72]  # 7, 14 and 21 of 28 steps
    # no pace yet at the first step counter; then the time per step so far, times the steps left
    assert running[0]["eta_seconds"] is None
    assert running[1]["eta_seconds"] is not None and running[2]["eta_seconds"] is not None
    assert all(r["eta_seconds"] >= 0 for r in running[1:])


def test_result_fetch_validation_error_is_invalid_request(server):
    server.result_error = (
        422,
        {"detail": [{"loc": ["body", "prompt"], "msg": "Prompt too long", "type": "string_too_long"}]},
        {},
    )
    error = failure(fal(server))
    assert error.code == ErrorCode.INVALID_REQUEST and "Prompt too long" in error.message


# --- download checks -------------------------------------------------------------------------------


@pytest.mark.parametrize("download", ["huge", "huge_unsized"])
def test_download_larger_than_allowed_is_refused(server, download):
    server.download = download
    error = failure(fal(server, max_bytes=100_000))
    assert error.code == ErrorCode.INTERNAL and "larger than the allowed 100000 bytes" in error.message


def test_download_that_is_not_an_image_is_refused(server):
    server.download = "html"
    error = failure(fal(server))
    assert error.code == ErrorCode.INTERNAL and "text/html" in error.message


def test_data_uri_checks_type_and_size(server):
    provider = fal(server, max_bytes=50)
    assert provider._data_uri("data:image/png;base64," + base64.b64encode(b"\x89PNG12").decode()) == (
        b"\x89PNG12",
        "image/png",
    )
    for bad, words in [
        ("data:text/plain;base64,aGVsbG8=", "text/plain"),
        ("data:image/png;base64," + base64.b64encode(b"x" * 100).decode(), "larger"),
        ("data:image/png;base64,@@@", "malformed"),
    ]:
        with pytest.raises(ProviderError) as raised:
            provider._data_uri(bad)
        assert words in raised.value.message
