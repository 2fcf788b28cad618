"""Where a worker spends a generation's time after the provider answers: pyinstrument over
RUNS tasks run in this process.

Starts the full stack (tests/live_stack.py) with the Gemini protocol double answering at once
(1344x768, as bench/download.py's end-to-end row), stops its worker processes, queues RUNS
Gemini tasks through the API, then runs each with the worker's own entry point
(``generation.pipeline.runner.run_task``) in this process under pyinstrument, threads included
as far as pyinstrument sees them (it samples this thread: the parallel WEBP encodes, signatures
and uploads show as the waits for them). Prints the report and the median time per task.

Run: `.venv/bin/python bench/profile_worker.py` (env: RUNS=10).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.gemini_server import GeminiServer
from tests.live_stack import Stack

RUNS = int(os.environ.get("RUNS", "10"))


def main() -> None:
    gemini = GeminiServer(downscale=1).start()
    env = {"GOOGLE_API_KEY": "g-test-key", "GEMINI_BASE_URL": gemini.url}
    try:
        with Stack(web_workers=1, worker_processes=1, env=env) as stack:
            stack.kill_worker()
            auth = stack.auth_header()
            ids = [
                requests.post(
                    f"{stack.url}/v1/apps/images/generate",
                    json={
                        "prompt": f"profile {i}",
                        "model": "google/gemini-3-pro-image-preview",
                        "aspect_ratio": "16:9",
                    },
                    headers=auth,
                    timeout=30,
                ).json()["task_id"]
                for i in range(RUNS + 1)
            ]
            os.environ.update(stack.env)
            import django

            django.setup()
            from pyinstrument import Profiler

            from generation.models import Task
            from generation.pipeline.runner import run_task

            run_task(ids[0])  # warm up: clients, C2PA PKI, pools
            profiler = Profiler(interval=0.0005)
            seconds = []
            for task_id in ids[1:]:
                start = time.perf_counter()
                profiler.start()
                run_task(task_id)
                profiler.stop()
                seconds.append(time.perf_counter() - start)
                assert Task.objects.get(pk=task_id).status == "completed"
            print(f"median {statistics.median(seconds) * 1000:.0f} ms per task (run_task, in-process)")
            print(profiler.output_text(unicode=False, color=False, show_all=False, time="percent_of_total"))
    finally:
        gemini.stop()


if __name__ == "__main__":
    main()
