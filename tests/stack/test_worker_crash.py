"""Real worker processes killed with SIGKILL mid-pipeline: every job still ends completed or
failed, with exactly its three objects in storage, nothing orphaned, and no second provider
call once the provider's answer was kept."""

from __future__ import annotations

import random
import time

import pytest
import requests

from tests import fault_hooks
from tests.fakes.gemini_server import GeminiServer
from tests.live_stack import Stack

pytestmark = [pytest.mark.faults, pytest.mark.xdist_group("stack")]

JOBS = 20


def test_jobs_survive_repeated_worker_kills():
    env = {
        "STALE_TASK_SECONDS": "3",
        "REAPER_INTERVAL_SECONDS": "1",
        "GENERATION_MAX_RETRIES": "8",
        "WORKER_THREADS": "4",
    }
    with Stack(web_workers=1, worker_processes=1, env=env) as stack:
        auth = stack.auth_header()
        rng = random.Random(7)
        tasks = []
        for index in range(JOBS):
            prompt = f"crash test {index} [[sleep:{rng.choice([0, 0.2, 0.6, 1.0])}]]"
            response = requests.post(
                f"{stack.url}/v1/apps/images/generate", json={"prompt": prompt}, headers=auth, timeout=30
            )
            assert response.status_code == 202, response.text
            tasks.append(response.json())
        kills = 0
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = [
                requests.get(f"{stack.url}/v1/tasks/{t['task_id']}", headers=auth, timeout=30).json()
                for t in tasks
            ]
            if all(s["status"] in {"completed", "failed", "cancelled"} for s in states):
                break
            if kills < 6:  # kill the workers mid-flight, at a random stage, a few times
                time.sleep(rng.uniform(0.3, 1.2))
                stack.kill_worker()
                kills += 1
                stack.worker = stack.start_worker()
            time.sleep(0.5)
        else:
            raise AssertionError(f"jobs stuck: {[s['status'] for s in states]}")
        assert kills >= 3
        completed = [s for s in states if s["status"] == "completed"]
        assert len(completed) + sum(s["status"] == "failed" for s in states) == JOBS
        assert len(completed) >= JOBS - 2, [s.get("error") for s in states]
        # No duplicates, and nothing orphaned once the reaper has swept what killed workers left.
        sweep_deadline = time.monotonic() + 20
        while (stored := stack.s3.list_objects_v2(Bucket=stack.bucket).get("KeyCount", 0)) != 3 * len(
            completed
        ):
            assert time.monotonic() < sweep_deadline, (stored, len(completed))
            time.sleep(0.5)
        for state in completed:
            preview = requests.get(
                f"{stack.url}/v1/embeds/{state['embed_id']}/file?format=preview", headers=auth, timeout=30
            )
            assert preview.status_code == 200 and preview.content[:4] == b"RIFF"


# Where the runner can be killed (tests/fault_hooks.py, the stage hook), in pipeline order.
CRASH_POINTS = tuple(fault_hooks.CRASH_POINTS)


def test_a_kill_at_every_stage_loses_nothing_and_never_pays_twice():
    """10 jobs through Gemini's protocol, one worker thread (so a kill hits only the job at its
    crash point); 6 of them SIGKILL the worker on their first attempt, one at each stage."""
    prompts = [f"staged crash {i} [[crash:{point}]]" for i, point in enumerate(CRASH_POINTS)]
    prompts += [f"no crash {i}" for i in range(4)]
    with GeminiServer() as gemini:
        env = {
            "GOOGLE_API_KEY": "g-test-key",
            "GEMINI_BASE_URL": gemini.url,
            "STALE_TASK_SECONDS": "2",
            "REAPER_INTERVAL_SECONDS": "0.5",
            "WORKER_THREADS": "1",
            "GENERATION_STAGE_HOOK": "tests.fault_hooks.crash_at_marked_stage",
        }
        with Stack(web_workers=1, worker_processes=1, env=env) as stack:
            auth = stack.auth_header()
            tasks = {}
            for prompt in prompts:
                response = requests.post(
                    f"{stack.url}/v1/apps/images/generate",
                    json={"prompt": prompt, "model": "high-end"},
                    headers=auth,
                    timeout=30,
                )
                assert response.status_code == 202, response.text
                tasks[prompt] = response.json()
            restarts = 0
            deadline = time.monotonic() + 300
            while True:
                states = {
                    prompt: requests.get(
                        f"{stack.url}/v1/tasks/{task['task_id']}", headers=auth, timeout=30
                    ).json()
                    for prompt, task in tasks.items()
                }
                if all(s["status"] in {"completed", "failed", "cancelled"} for s in states.values()):
                    break
                assert time.monotonic() < deadline, {p: s["status"] for p, s in states.items()}
                if stack.worker.poll() is not None:  # its process died: kill what is left, start anew
                    stack.kill_worker()
                    stack.worker = stack.start_worker()
                    restarts += 1
                time.sleep(0.3)
            assert restarts >= len(CRASH_POINTS)
            assert {s["status"] for s in states.values()} == {"completed"}, states
            calls = [call["json"]["contents"][0]["parts"][0]["text"] for call in gemini.calls]
            for prompt in prompts:
                # killed after the call but before its answer was kept: the one call repeated
                expected = 2 if "[[crash:provider]]" in prompt else 1
                assert calls.count(prompt) == expected, (prompt, calls.count(prompt))
            # a second attempt for every kill before the end; a kill after it changes nothing
            expected_attempts = {p: 2 if "[[crash:" in p and "finished" not in p else 1 for p in prompts}
            assert {p: s["attempts"] for p, s in states.items()} == expected_attempts
            # exactly three objects per image once the reaper has swept what the kills left
            sweep_deadline = time.monotonic() + 20
            while (stored := stack.s3.list_objects_v2(Bucket=stack.bucket).get("KeyCount", 0)) != 3 * len(
                prompts
            ):
                assert time.monotonic() < sweep_deadline, stored
                time.sleep(0.5)
            for state in states.values():
                preview = requests.get(
                    f"{stack.url}/v1/embeds/{state['embed_id']}/file?format=preview", headers=auth, timeout=30
                )
                assert preview.status_code == 200 and preview.content[:4] == b"RIFF"
