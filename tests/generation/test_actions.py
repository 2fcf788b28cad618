"""Regenerate means a different image (a fresh seed unless the user pinned one); cancelling a
finished task answers as GET does."""

from __future__ import annotations

import io

from PIL import Image

from tests.conftest import wait_for_task


def _made(client, **body) -> dict:
    response = client.post("/v1/apps/images/generate", {"aspect_ratio": "1:1", **body}, format="json")
    assert response.status_code == 202, response.content
    return wait_for_task(client, response.json()["task_id"])


def _again(client, embed_id: str) -> dict:
    response = client.post(
        f"/v1/embeds/{embed_id}/report", {"reason": "wrong_content", "regenerate": True}, format="json"
    )
    assert response.status_code == 202, response.content
    return wait_for_task(client, response.json()["task_id"])


def _original(client, embed_id: str) -> bytes:
    """The original's pixels (its metadata differs between any two files: ids, times)."""
    body = client.get(f"/v1/embeds/{embed_id}/file?format=original").content
    return Image.open(io.BytesIO(body)).convert("RGB").tobytes()


def test_regenerate_differs_and_a_pinned_seed_is_kept(alice_api, worker):
    first = _made(alice_api, prompt="a red kite")
    again = _again(alice_api, first["embed_id"])
    assert again["status"] == "completed"
    assert _original(alice_api, again["embed_id"]) != _original(alice_api, first["embed_id"])
    first_seed = alice_api.get(f"/v1/embeds/{first['embed_id']}/content").json()["seed"]
    again_content = alice_api.get(f"/v1/embeds/{again['embed_id']}/content").json()
    assert again_content["seed"] != first_seed and again_content["prompt"] == "a red kite"
    # A regenerate of a regenerate is new again: the drawn seed was not pinned by the user.
    third = _again(alice_api, again["embed_id"])
    assert _original(alice_api, third["embed_id"]) != _original(alice_api, again["embed_id"])

    pinned = _made(alice_api, prompt="a red kite", seed=1234)
    same = _again(alice_api, pinned["embed_id"])
    assert alice_api.get(f"/v1/embeds/{same['embed_id']}/content").json()["seed"] == 1234
    assert _original(alice_api, same["embed_id"]) == _original(alice_api, pinned["embed_id"])


def test_cancelling_a_completed_task_answers_with_its_files(alice_api, worker):
    done = _made(alice_api, prompt="a lighthouse")
    cancelled = alice_api.post(f"/v1/tasks/{done['task_id']}/cancel")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["status"] == "completed" and body["files"] == done["files"]
    assert set(body["files"]) >= {"original", "full", "preview"}


def test_each_model_takes_as_many_references_as_its_provider_allows():
    from dataclasses import replace

    import pytest

    from core.errors import ApiError
    from generation.actions import check_reference_count
    from generation.registry import find_model

    gemini, fal = find_model("high-end"), find_model("draft")
    check_reference_count(gemini, 14, editing=False)
    check_reference_count(gemini, 13, editing=True)
    check_reference_count(fal, 4, editing=False)
    check_reference_count(fal, 3, editing=True)
    for spec, count, editing, message in (
        (gemini, 15, False, "The model google/gemini-3-pro-image takes at most 14 reference images."),
        (fal, 5, False, "The model fal-ai/flux-2/klein/9b/base takes at most 4 reference images."),
        (
            fal,
            4,
            True,
            "The model fal-ai/flux-2/klein/9b/base takes at most 3 reference images "
            "with the image being edited.",
        ),
        (
            replace(fal, max_input_images=0),
            1,
            False,
            "The model fal-ai/flux-2/klein/9b/base does not take reference images.",
        ),
        (
            replace(fal, max_input_images=1),
            1,
            True,
            "The model fal-ai/flux-2/klein/9b/base does not take reference images when editing.",
        ),
    ):
        with pytest.raises(ApiError) as refused:
            check_reference_count(spec, count, editing=editing)
        assert (refused.value.status_code, refused.value.field, refused.value.message) == (
            400,
            "reference_embed_ids",
            message,
        )
    check_reference_count(replace(fal, max_input_images=0), 0, editing=False)  # none asked: fine
