"""generation/pipeline/runner.py: the stages in order, and the one stage hook faults come in by."""

from __future__ import annotations

import time

from embeds.storage import StorageUnavailable
from tests.conftest import wait_for_task

SEEN: list[tuple[str, int]] = []


def record(stage: str, run) -> None:
    """A stage hook: remembers each stage the runner was about to run, with the attempt."""
    SEEN.append((stage, run.task.attempts))


def storage_down_once(stage: str, run) -> None:
    """A stage hook: object storage is unreachable when the first attempt starts storing."""
    record(stage, run)
    if stage == "storing" and run.task.attempts == 1:
        raise StorageUnavailable("injected")


def _hook(settings, name: str) -> None:
    SEEN.clear()
    settings.GENERATION = {
        **settings.GENERATION,
        "STAGE_HOOK": f"tests.generation.pipeline.test_runner.{name}",
        "RETRY_MIN_BACKOFF_MS": 10,
        "RETRY_MAX_BACKOFF_MS": 20,
    }


def test_the_hook_sees_every_stage_in_order(alice_api, worker, settings):
    _hook(settings, "record")
    response = alice_api.post("/v1/apps/images/generate", {"prompt": "a boat"}, format="json")
    done = wait_for_task(alice_api, response.json()["task_id"])
    assert done["status"] == "completed"
    assert [stage for stage, _ in SEEN] == [
        "request",
        "provider",
        "staging",
        "labels",
        "renditions",
        "storing",
        "sealing",
        "complete",
        "cleanup",
    ]


def test_a_fault_injected_by_the_hook_is_retried_from_the_staged_result(alice_api, worker, settings):
    _hook(settings, "storage_down_once")
    response = alice_api.post("/v1/apps/images/generate", {"prompt": "a tree"}, format="json")
    done = wait_for_task(alice_api, response.json()["task_id"])
    assert done["status"] == "completed" and done["attempts"] == 2
    # the task reads completed once its end commits; its clean-up (and that hook) come just after
    deadline = time.monotonic() + 10
    while ("cleanup", 2) not in SEEN and time.monotonic() < deadline:
        time.sleep(0.01)
    second = [stage for stage, attempt in SEEN if attempt == 2]
    # the provider's answer was kept: the second attempt resumes without calling it again
    assert second == ["resume", "labels", "renditions", "storing", "sealing", "complete", "cleanup"]
