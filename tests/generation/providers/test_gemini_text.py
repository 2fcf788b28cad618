"""Image analysis through the real google-genai client against the Gemini double: streaming
answers (pushed to the user's sockets as they grow), the region's images, safety blocks, 429s,
cut-off answers and cancel."""

from __future__ import annotations

import asyncio
import base64
import io
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from google import genai
from google.genai import types
from PIL import Image

from core.realtime import user_group
from generation.models import Task
from tests.conftest import wait_for_task
from tests.fakes.gemini_server import GeminiServer

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "What does the circled sign say?"
CIRCLE = {"shapes": [{"type": "ellipse", "x": 700, "y": 500, "width": 120, "height": 80}]}


@pytest.fixture
def gemini(settings):
    with GeminiServer() as server:
        settings.GENERATION = {
            **settings.GENERATION,
            "GOOGLE_API_KEY": "g-test-key",
            "GEMINI_BASE_URL": server.url,
            "MAX_RETRIES": 2,
            "RETRY_MIN_BACKOFF_MS": 50,
            "RETRY_MAX_BACKOFF_MS": 200,
        }
        yield server


def _photo() -> bytes:
    """A 1000×700 JPEG carrying EXIF (a camera, a GPS-ish comment): none of it may leave."""
    image = Image.new("RGB", (1000, 700), (90, 140, 60))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x9286] = "home address"  # UserComment
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def _source(client) -> str:
    response = client.post("/v1/embeds/upload", {"file": io.BytesIO(_photo())}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["embed_id"]


def _ask(client, embed_id, **body):
    response = client.post(
        "/v1/apps/images/analyze", {"embed_id": embed_id, "question": QUESTION, **body}, format="json"
    )
    assert response.status_code == 202, response.content
    return response.json()


def _content(client, embed_id) -> dict:
    return client.get(f"/v1/embeds/{embed_id}/content").json()


class Listener:
    """A channel in the user's group: what their open tabs receive."""

    def __init__(self, user_id: int) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(user_group(user_id), self.channel)

    def events(self, kind: str, *, until, timeout: float = 15.0) -> list[dict]:
        async def collect() -> list[dict]:
            found: list[dict] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), 1.0)
                except TimeoutError:
                    continue
                if message.get("event") == kind:
                    found.append(message["payload"])
                    if until(found):
                        return found
            return found

        return async_to_sync(collect)()


def test_the_answer_streams_and_the_model_sees_the_region(alice, alice_api, worker, gemini):
    gemini.script(
        GeminiServer.answer("The sign ", "says ", "“EXIT”.", delay=0.4, thought="Looking at the red ellipse")
    )
    listener = Listener(alice.pk)
    task = _ask(alice_api, _source(alice_api), region=CIRCLE)
    assert task["model"] == "google/gemini-3.5-flash"
    deltas = listener.events("analysis_delta", until=lambda found: found[-1]["text"].endswith("”."))
    texts = [d["text"] for d in deltas]
    assert texts[-1] == "The sign says “EXIT”."
    assert len(texts) >= 2 and all(texts[-1].startswith(t) for t in texts)  # it grew, in order
    assert all("Looking at" not in t for t in texts)  # thoughts are not the answer
    assert {d["embed_id"] for d in deltas} == {task["embed_id"]}

    done = wait_for_task(alice_api, task["task_id"])
    assert done["status"] == "completed", done
    content = _content(alice_api, task["embed_id"])
    assert content["answer"] == "The sign says “EXIT”."
    assert content["model_version"] == "gemini-3.5-flash-001"
    assert content["truncated"] is False
    assert Task.objects.get(pk=task["task_id"]).usage["prompt_tokens"] == 1300

    (call,) = gemini.stream_calls
    assert call["path"] == "/v1beta/models/gemini-3.5-flash:streamGenerateContent"
    assert call["query"] == {"alt": "sse"}
    parts = call["json"]["contents"][0]["parts"]
    texts = [p["text"] for p in parts if "text" in p]
    assert "x=688, y=492, width=144, height=96" in texts[0]  # the padded box, original pixels
    assert "close-up" in texts[0] and "red outlines" in texts[0]
    assert texts[-1] == f"Question: {QUESTION}"
    images = [base64.urlsafe_b64decode(p["inlineData"]["data"]) for p in parts if "inlineData" in p]
    assert len(images) == 2  # the annotated whole, and the small region's close-up
    whole, crop = (Image.open(io.BytesIO(data)) for data in images)
    assert whole.size == (1000, 700) and crop.size == (144, 96)
    assert whole.getpixel((700, 540))[0] > 200  # the ellipse's left edge, outlined in red
    for data in images:
        assert data.startswith(b"\x89PNG")
        assert b"SecretCam" not in data and b"home address" not in data and b"eXIf" not in data
    assert "systemInstruction" in call["json"]


def test_a_safety_stop_is_content_blocked_with_the_reason_kept_encrypted(alice_api, worker, gemini):
    gemini.script(GeminiServer.text_block("The partial answer ", finish="SAFETY"))
    task = _ask(alice_api, _source(alice_api))
    done = wait_for_task(alice_api, task["task_id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "content_blocked"
    assert "SAFETY" in done["error"]["message"]
    row = Task.objects.get(pk=task["task_id"])
    assert "partial answer" not in row.error_message and "HARM_CATEGORY" not in row.error_message
    error = _content(alice_api, task["embed_id"])["error"]
    assert "The partial answer" in error["detail"]
    assert "HARM_CATEGORY_DANGEROUS_CONTENT=HIGH" in error["detail"]


def test_a_blocked_question_is_content_blocked(alice_api, worker, gemini):
    gemini.script(GeminiServer.prompt_block("PROHIBITED_CONTENT"))
    done = wait_for_task(alice_api, _ask(alice_api, _source(alice_api))["task_id"])
    assert done["status"] == "failed" and done["error"]["code"] == "content_blocked"
    assert "PROHIBITED_CONTENT" in done["error"]["message"]


def test_a_429_is_retried_after_its_retry_delay(alice_api, worker, gemini):
    gemini.script(GeminiServer.rate_limited("1s"), GeminiServer.answer("Fine."))
    done = wait_for_task(alice_api, _ask(alice_api, _source(alice_api))["task_id"])
    assert done["status"] == "completed" and done["attempts"] == 2
    first, second = gemini.stream_calls
    assert second["at"] - first["at"] >= 0.9
    assert _content(alice_api, done["embed_id"])["answer"] == "Fine."


def test_a_tier_without_quota_fails_at_once(alice_api, worker, gemini):
    gemini.script(GeminiServer.rate_limited(None, quota_value="0"))
    done = wait_for_task(alice_api, _ask(alice_api, _source(alice_api))["task_id"])
    assert done["status"] == "failed" and done["error"]["code"] == "quota_exceeded"
    assert len(gemini.stream_calls) == 1


def test_an_answer_cut_off_at_max_tokens_is_kept_and_marked(alice_api, worker, gemini):
    gemini.script(GeminiServer.answer("A long ", "answer", finish="MAX_TOKENS"))
    done = wait_for_task(alice_api, _ask(alice_api, _source(alice_api))["task_id"])
    content = _content(alice_api, done["embed_id"])
    assert done["status"] == "completed"
    assert content["answer"] == "A long answer" and content["truncated"] is True


def test_an_empty_answer_is_tried_again(alice_api, worker, gemini):
    gemini.script(GeminiServer.answer(finish="OTHER"), GeminiServer.answer("Now it works."))
    done = wait_for_task(alice_api, _ask(alice_api, _source(alice_api))["task_id"])
    assert done["status"] == "completed" and done["attempts"] == 2


def test_cancel_stops_a_streaming_answer(alice, alice_api, worker, gemini):
    gemini.script(GeminiServer.answer(*[f"word{i} " for i in range(40)], delay=0.3))
    listener = Listener(alice.pk)
    task = _ask(alice_api, _source(alice_api))
    listener.events("analysis_delta", until=lambda found: bool(found))
    alice_api.post(f"/v1/tasks/{task['task_id']}/cancel")
    done = wait_for_task(alice_api, task["task_id"], timeout=10)
    assert done["status"] == "cancelled"
    assert _content(alice_api, task["embed_id"])["answer"] is None


def test_a_model_gone_at_google_is_marked_unavailable(alice_api, worker, gemini):
    gemini.models.discard("gemini-3.5-flash")
    done = wait_for_task(alice_api, _ask(alice_api, _source(alice_api))["task_id"])
    assert done["status"] == "failed" and done["error"]["code"] == "provider_unavailable"
    models = {m["id"]: m for m in alice_api.get("/v1/apps/images/analyze/models").json()["models"]}
    assert models["google/gemini-3.5-flash"]["available"] is False
    assert "404" in models["google/gemini-3.5-flash"]["unavailable_reason"]
    assert models["google/gemini-3.8-flash"]["available"] is True


def test_the_double_answers_non_streaming_text_like_the_api(gemini):
    """The SDK's plain generate_content against the double: parts, finish reason, usage."""
    client = genai.Client(
        api_key="g-test-key", http_options=types.HttpOptions(base_url=gemini.url, api_version="v1beta")
    )
    gemini.script(GeminiServer.answer("Two ", "parts.", thought="thinking"))
    response = client.models.generate_content(model="gemini-3.5-flash", contents="hi")
    assert response.text == "Two parts."
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata.prompt_token_count == 1300
    gemini.script(GeminiServer.text_block(finish="SAFETY"))
    blocked = client.models.generate_content(model="gemini-3.5-flash", contents="hi")
    assert blocked.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert blocked.candidates[0].safety_ratings[0].blocked is True
    gemini.script(GeminiServer.answer("a", "b", "c"))
    chunks = list(client.models.generate_content_stream(model="gemini-3.5-flash", contents="hi"))
    assert [c.text for c in chunks] == ["a", "b", "c"]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
