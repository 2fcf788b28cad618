"""POST /v1/apps/images/analyze end to end with the offline inspector: the task, the encrypted
answer embed, the region, isolation and the 400s for bad input."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from embeds.models import Embed
from generation.models import Task
from tests.conftest import wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "What is written on the little sign in the corner?"


def _png(size=(400, 300), colour=(20, 40, 200), square=(300, 200, 380, 280), square_colour=(250, 250, 250)):
    image = Image.new("RGB", size, colour)
    image.paste(Image.new("RGB", (square[2] - square[0], square[3] - square[1]), square_colour), square[:2])
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _upload(client, data=None, name="photo.png") -> dict:
    response = client.post("/v1/embeds/upload", {"file": io.BytesIO(data or _png())}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def _analyze(client, **body):
    return client.post("/v1/apps/images/analyze", body, format="json")


def test_a_question_about_a_circled_area_gets_an_honest_offline_answer(alice_api, worker):
    source = _upload(alice_api)
    region = {"shapes": [{"type": "ellipse", "x": 295, "y": 195, "width": 90, "height": 90}]}
    response = _analyze(alice_api, embed_id=source["embed_id"], question=QUESTION, region=region)
    assert response.status_code == 202, response.content
    task = response.json()
    assert task["kind"] == "analyze" and task["status"] == "queued" and task["model"] == "local/inspector"
    assert task["eta_seconds"] is not None and task["cost_usd"] == "0.0000"

    done = wait_for_task(alice_api, task["task_id"])
    assert done["status"] == "completed", done

    content = alice_api.get(f"/v1/embeds/{task['embed_id']}/content").json()
    assert content["type"] == "image_analysis" and content["status"] == "finished"
    assert content["question"] == QUESTION
    assert content["source_embed_id"] == source["embed_id"]
    assert content["model"] == "local/inspector"
    assert content["region"] == region
    answer = content["answer"]
    assert "vision model" in answer  # says what it cannot do
    assert "400×300" in answer
    # The circled square is white on a blue image: the region is brighter than the whole.
    assert "brighter than the image as a whole" in answer
    assert "An ellipse of 90×90 px at x=295, y=195" in answer
    assert QUESTION not in answer
    region_figures = content["measurements"]["region"]
    assert region_figures["palette"][0]["name"] == "white"
    assert content["measurements"]["palette"][0]["name"] == "blue"


def test_the_question_and_answer_are_stored_only_encrypted(alice_api, worker):
    source = _upload(alice_api)
    task = _analyze(alice_api, embed_id=source["embed_id"], question=QUESTION).json()
    wait_for_task(alice_api, task["task_id"])
    embed = Embed.objects.get(pk=task["embed_id"])
    assert embed.type == Embed.Type.IMAGE_ANALYSIS
    assert QUESTION.encode() not in bytes(embed.encrypted_content)
    assert b"vision model" not in bytes(embed.encrypted_content)
    row = Task.objects.get(pk=task["task_id"])
    assert QUESTION not in str(row.__dict__)


def test_an_uploaded_file_can_be_asked_about_directly(alice_api, worker):
    response = alice_api.post(
        "/v1/apps/images/analyze",
        {
            "file": io.BytesIO(_png()),
            "question": "Is it dark?",
            "region": '{"shapes": [{"type": "rectangle", "x": 0, "y": 0, "width": 50, "height": 50}]}',
        },
        format="multipart",
    )
    assert response.status_code == 202, response.content
    done = wait_for_task(alice_api, response.json()["task_id"])
    assert done["status"] == "completed"
    content = alice_api.get(f"/v1/embeds/{done['embed_id']}/content").json()
    source = alice_api.get(f"/v1/embeds/{content['source_embed_id']}/content").json()
    assert source["type"] == "image" and source["source"] == "upload"
    assert "A rectangle of 50×50 px" in content["answer"]


def test_someone_elses_image_is_not_found(alice_api, bob_api):
    source = _upload(alice_api)
    response = _analyze(bob_api, embed_id=source["embed_id"], question=QUESTION)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Task.objects.filter(kind=Task.Kind.ANALYZE).exists()


def test_someone_elses_answer_is_not_found(alice_api, bob_api, worker):
    source = _upload(alice_api)
    task = _analyze(alice_api, embed_id=source["embed_id"], question=QUESTION).json()
    wait_for_task(alice_api, task["task_id"])
    assert bob_api.get(f"/v1/embeds/{task['embed_id']}/content").status_code == 404
    assert bob_api.get(f"/v1/tasks/{task['task_id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "missing_field", "question"),
        ({"question": "   "}, "missing_field", "question"),
        ({"question": "x" * 4001}, "invalid_value", "question"),
        ({"question": 5}, "invalid_value", "question"),
        ({"question": "what?", "colour": "red"}, "unknown_field", "colour"),
        ({"question": "what?", "model": "nope"}, "invalid_choice", "model"),
        (
            {
                "question": "what?",
                "region": {"shapes": [{"type": "rectangle", "x": 350, "y": 10, "width": 100, "height": 10}]},
            },
            "invalid_value",
            "region.shapes[0]",
        ),
        (
            {
                "question": "what?",
                "region": {"shapes": [{"type": "arrow", "x1": 1, "y1": 1, "x2": 900, "y2": 1}]},
            },
            "invalid_value",
            "region.shapes[0]",
        ),
        (
            {"question": "what?", "region": {"shapes": [{"type": "star"}]}},
            "invalid_value",
            "region.shapes[0].type",
        ),
        ({"question": "what?", "region": {"shapes": []}}, "invalid_value", "region.shapes"),
        ({"question": "what?", "region": "circle"}, "invalid_value", "region"),
    ],
)
def test_bad_input_is_a_clear_400(alice_api, body, code, field):
    source = _upload(alice_api)
    response = _analyze(alice_api, embed_id=source["embed_id"], **body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field), error
    assert error["message"]
    assert not Task.objects.filter(kind=Task.Kind.ANALYZE).exists()
    assert not Embed.objects.filter(type=Embed.Type.IMAGE_ANALYSIS).exists()


def test_a_file_that_is_not_an_image_is_a_400_and_stores_nothing(alice_api):
    response = alice_api.post(
        "/v1/apps/images/analyze",
        {"file": io.BytesIO(b"%PDF-1.7 not an image"), "question": "What is this?"},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "not_an_image"
    assert response.json()["error"]["field"] == "file"
    assert not Embed.objects.exists()


def test_no_image_at_all_is_a_400(alice_api):
    response = _analyze(alice_api, question="What is this?")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "embed_id"


def test_an_analysis_is_cancelled_like_any_task(alice_api):
    source = _upload(alice_api)
    task = _analyze(alice_api, embed_id=source["embed_id"], question=QUESTION).json()
    cancelled = alice_api.post(f"/v1/tasks/{task['task_id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    content = alice_api.get(f"/v1/embeds/{task['embed_id']}/content").json()
    assert content["status"] == "error" and content["answer"] is None


def test_idempotency_key_returns_the_same_task(alice_api):
    source = _upload(alice_api)
    headers = {"HTTP_IDEMPOTENCY_KEY": "ask-1"}
    first = alice_api.post(
        "/v1/apps/images/analyze",
        {"embed_id": source["embed_id"], "question": QUESTION},
        format="json",
        **headers,
    )
    again = alice_api.post(
        "/v1/apps/images/analyze",
        {"embed_id": source["embed_id"], "question": QUESTION},
        format="json",
        **headers,
    )
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["task_id"] == again.json()["task_id"]
    other = alice_api.post(
        "/v1/apps/images/analyze",
        {"embed_id": source["embed_id"], "question": "Else?"},
        format="json",
        **headers,
    )
    assert other.status_code == 422


def test_analysis_models_are_listed_with_availability(alice_api):
    body = alice_api.get("/v1/apps/images/analyze/models").json()
    assert body["default"] == "local/inspector"
    by_id = {m["id"]: m for m in body["models"]}
    assert by_id["local/inspector"]["available"] is True
    gemini = by_id["google/gemini-3.5-flash"]
    assert gemini["available"] is False and "GOOGLE_API_KEY" in gemini["unavailable_reason"]
    response = _analyze(alice_api, embed_id=_upload(alice_api)["embed_id"], question="?", model="vision")
    assert response.status_code == 400 and response.json()["error"]["code"] == "provider_unavailable"


def test_the_webhook_is_delivered_without_the_question_or_answer(alice_api, worker, settings):
    import json

    from tests.generation.test_webhooks import Receiver

    settings.GENERATION = {**settings.GENERATION, "WEBHOOK_ALLOW_PRIVATE": True}
    receiver = Receiver()
    source = _upload(alice_api)
    task = _analyze(
        alice_api, embed_id=source["embed_id"], question=QUESTION, webhook_url=receiver.url
    ).json()
    wait_for_task(alice_api, task["task_id"])
    receiver.wait(1)
    payload = json.loads(receiver.deliveries[0]["body"])
    assert payload["task_id"] == task["task_id"] and payload["status"] == "completed"
    assert payload["kind"] == "analyze"
    assert QUESTION not in receiver.deliveries[0]["body"].decode()
    assert "vision model" not in receiver.deliveries[0]["body"].decode()


def test_no_question_or_answer_reaches_the_logs(alice_api, worker, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    source = _upload(alice_api)
    task = _analyze(alice_api, embed_id=source["embed_id"], question=QUESTION).json()
    wait_for_task(alice_api, task["task_id"])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert task["task_id"] in logged  # the log did record the task…
    assert QUESTION not in logged and "vision model" not in logged  # …and nothing of its text
