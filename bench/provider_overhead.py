"""Our overhead per task on top of the provider's own time, per provider.

Runs the full stack (tests/live_stack.py) with the Gemini and fal protocol servers from
tests/fakes answering at once (a provider time of ~0, fal's queue polled every 50 ms), submits
RUNS tasks per model one after another, and prints from the server's own timestamps the median
time from request to finished task (queueing + provider round trips + renditions + signing +
encryption + storage + finish) and the client-observed end to end time.

Run: `.venv/bin/python bench/provider_overhead.py` (env: RUNS=10).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from tests.fakes.fal_server import FalServer
from tests.fakes.gemini_server import GeminiServer
from tests.live_stack import Stack

RUNS = int(os.environ.get("RUNS", "10"))


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def main() -> None:
    # Full-size images (no downscale), so our figure includes post-processing a real 1 MP answer;
    # fal's queue answers COMPLETED at the first poll, so its own time is ~0.
    gemini, fal = GeminiServer(downscale=1).start(), FalServer(downscale=1).start()
    fal.queue_positions, fal.running_polls = [], 0
    env = {
        "GOOGLE_API_KEY": "g-test-key",
        "GEMINI_BASE_URL": gemini.url,
        "FAL_KEY": "fal-test-key",
        "FAL_QUEUE_BASE_URL": fal.url,
        "FAL_POLL_INTERVAL": "0.05",
    }
    try:
        with Stack(web_workers=1, worker_processes=1, env=env) as stack:
            auth = stack.auth_header()
            print(
                f"{RUNS} sequential tasks per model, provider servers answering at once, "
                f"{os.cpu_count()} cores"
            )
            print(f"{'model':<34} {'server p50 s':>12} {'client p50 s':>12}")
            for model in (
                "local/procedural",
                "google/gemini-3-pro-image",
                "fal-ai/flux-2/klein/9b/base",
            ):
                server, client = [], []
                for index in range(RUNS):
                    start = time.perf_counter()
                    task = requests.post(
                        f"{stack.url}/v1/apps/images/generate",
                        headers=auth,
                        timeout=30,
                        json={"prompt": f"overhead {index}", "model": model},
                    ).json()
                    while True:
                        body = requests.get(
                            f"{stack.url}/v1/tasks/{task['task_id']}", headers=auth, timeout=30
                        ).json()
                        if body["status"] in {"completed", "failed"}:
                            break
                        time.sleep(0.01)
                    client.append(time.perf_counter() - start)
                    assert body["status"] == "completed", body
                    server.append((parse(body["finished_at"]) - parse(body["created_at"])).total_seconds())
                print(f"{model:<34} {statistics.median(server):12.3f} {statistics.median(client):12.3f}")
    finally:
        gemini.stop()
        fal.stop()


if __name__ == "__main__":
    main()
