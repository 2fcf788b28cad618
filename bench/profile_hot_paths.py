"""Where a download and a poll spend their time: pyinstrument over REQUESTS in-process requests.

Starts the full stack (tests/live_stack.py) for its services and data, then runs Django's ASGI
application in this process with the same environment (PostgreSQL, Redis, moto S3, the Vault
double). For each kind of request it times REQUESTS sequential requests through Django's
AsyncClient (the ASGI path uvicorn takes: a sync view runs on a thread there) and through the
test Client (no ASGI, no thread hop), then profiles the latter with pyinstrument (which samples
only its own thread, so it cannot see inside a sync view run under ASGI). Prints the report per
kind (frames under 2 % hidden).

Run: `.venv/bin/python bench/profile_hot_paths.py` (env: REQUESTS=300).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.live_stack import Stack

REQUESTS = int(os.environ.get("REQUESTS", "300"))


def main() -> None:
    with Stack(web_workers=1, worker_processes=1) as stack:
        auth = stack.auth_header()
        task = requests.post(
            f"{stack.url}/v1/apps/images/generate", json={"prompt": "profile"}, headers=auth, timeout=30
        ).json()
        stack.wait_for(task["task_id"])
        running = requests.post(
            f"{stack.url}/v1/apps/images/generate",
            json={"prompt": "profile running [[sleep:3600]]"},
            headers=auth,
            timeout=30,
        ).json()
        os.environ.update(stack.env, ALLOWED_HOSTS="testserver")  # the test clients' host
        import django

        django.setup()
        import time

        from django.test import AsyncClient, Client
        from pyinstrument import Profiler

        from openmates_images.asgi import application  # noqa: F401  (the app uvicorn serves)

        client, sync_client = AsyncClient(), Client()
        paths = {
            "file full": f"/v1/embeds/{task['embed_id']}/file?format=full",
            "poll running": f"/v1/tasks/{running['task_id']}",
            "poll completed": f"/v1/tasks/{task['task_id']}",
            "healthz": "/healthz",
        }

        async def run(path: str, count: int) -> None:
            for _ in range(count):
                response = await client.get(path, headers=auth)
                assert response.status_code == 200, (path, response.status_code)

        def run_sync(path: str, count: int) -> None:
            for _ in range(count):
                response = sync_client.get(path, headers=auth)
                assert response.status_code == 200, (path, response.status_code)

        for name, path in paths.items():
            asyncio.run(run(path, 20))  # warm up pools and caches
            run_sync(path, 20)
            start = time.perf_counter()
            asyncio.run(run(path, REQUESTS))
            asgi_ms = (time.perf_counter() - start) * 1000 / REQUESTS
            start = time.perf_counter()
            run_sync(path, REQUESTS)
            sync_ms = (time.perf_counter() - start) * 1000 / REQUESTS
            profiler = Profiler(interval=0.0002)
            profiler.start()
            run_sync(path, REQUESTS)
            profiler.stop()
            print(f"===== {name}: {asgi_ms:.2f} ms per request through ASGI, {sync_ms:.2f} ms without")
            print(profiler.output_text(unicode=False, color=False, show_all=False, time="percent_of_total"))


if __name__ == "__main__":
    main()
