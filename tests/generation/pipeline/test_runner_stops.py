"""The runner's stops before a stage (generation/pipeline/runner.py): a cancel asked for, or an
ending by someone else, seen by the stage's own progress write (one conditional UPDATE), and
the renditions begun while the provider's answer was staged, taken by the renditions stage."""

from __future__ import annotations

from generation import lifecycle
from generation.models import Task
from generation.providers.base import ErrorCode
from tests.conftest import wait_for_task

SEEN: list[str] = []


def _task(run) -> Task:
    return Task.objects.select_related("embed").get(pk=run.task.pk)


def cancel_before_storing(stage: str, run) -> None:
    """A stage hook: the owner cancels while the renditions are being made."""
    SEEN.append(stage)
    if stage == "renditions":
        lifecycle.cancel(_task(run))


def ended_before_storing(stage: str, run) -> None:
    """A stage hook: another delivery ends the task while the renditions are being made."""
    SEEN.append(stage)
    if stage == "renditions":
        lifecycle.fail(_task(run), ErrorCode.INTERNAL, "ended by another delivery")


def record_renditions(stage: str, run) -> None:
    """A stage hook: notes, before the renditions stage, whether they were already begun."""
    SEEN.append(stage)
    if stage == "renditions":
        SEEN.append(f"begun={run.early_renditions is not None}")


def _hook(settings, name: str) -> None:
    SEEN.clear()
    settings.GENERATION = {
        **settings.GENERATION,
        "STAGE_HOOK": f"tests.generation.pipeline.test_runner_stops.{name}",
    }


def test_a_cancel_before_storing_stops_the_task_before_it_stores(alice_api, worker, settings):
    _hook(settings, "cancel_before_storing")
    response = alice_api.post("/v1/apps/images/generate", {"prompt": "a boat"}, format="json")
    done = wait_for_task(alice_api, response.json()["task_id"])

    assert done["status"] == "cancelled"
    assert "renditions" in SEEN and "storing" not in SEEN
    task = Task.objects.select_related("embed").get(pk=done["task_id"])
    assert task.embed.status == "error" and task.stage == "cancelled"


def test_a_task_ended_elsewhere_before_storing_is_left_as_it_ended(alice_api, worker, settings):
    _hook(settings, "ended_before_storing")
    response = alice_api.post("/v1/apps/images/generate", {"prompt": "a tree"}, format="json")
    done = wait_for_task(alice_api, response.json()["task_id"])

    assert done["status"] == "failed" and done["error"]["message"] == "ended by another delivery"
    assert "storing" not in SEEN


def test_the_renditions_begin_while_the_answer_is_staged(alice_api, worker, settings):
    _hook(settings, "record_renditions")
    response = alice_api.post("/v1/apps/images/generate", {"prompt": "a lake"}, format="json")
    done = wait_for_task(alice_api, response.json()["task_id"])

    assert done["status"] == "completed"
    assert SEEN.index("staging") < SEEN.index("renditions")
    assert "begun=True" in SEEN
    preview = alice_api.get(f"/v1/embeds/{done['embed_id']}/file?format=preview")
    body = b"".join(preview.streaming_content) if preview.streaming else preview.content
    assert preview.status_code == 200 and body[:4] == b"RIFF"
