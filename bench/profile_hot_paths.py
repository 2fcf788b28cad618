"""Where a download and a poll spend their time: pyinstrument over REQUESTS in-process requests.

Starts the full stack (tests/live_stack.py) for its services and data, then runs the project's
ASGI application (openmates_images.asgi, what uvicorn serves) in this process with the same
environment (PostgreSQL, Redis, moto S3, the Vault double). For each kind of request it times
REQUESTS sequential requests through that application in one event loop, and through Django's
test Client (the sync DRF view, no ASGI). pyinstrument samples one thread, so the profile comes
in two parts: the event loop's thread over REQUESTS requests through the application (for the
file and the poll: routing, middleware hooks, authentication, response; their one blocking call
shows as a wait), and that blocking call (``_load_file`` / ``_poll``) run REQUESTS times on
this thread. Prints each report (frames under 2 % hidden).

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


def report(profiler) -> str:
    return profiler.output_text(unicode=False, color=False, show_all=False, time="percent_of_total")


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

        from django.test import Client
        from pyinstrument import Profiler

        from embeds.api.views import _load_file
        from generation.api.views import _poll
        from openmates_images.asgi import application

        sync_client = Client()
        paths = {
            "file full": f"/v1/embeds/{task['embed_id']}/file?format=full",
            "poll running": f"/v1/tasks/{running['task_id']}",
            "poll completed": f"/v1/tasks/{task['task_id']}",
            "healthz": "/healthz",
        }
        header = [(b"authorization", auth["Authorization"].encode()), (b"host", b"testserver")]

        async def one(path: str) -> int:
            route, _, query = path.partition("?")
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                "scheme": "http", "path": route, "raw_path": route.encode(), "query_string": query.encode(),
                "root_path": "", "headers": header, "client": ("127.0.0.1", 5000),
                "server": ("127.0.0.1", 8000),
            }  # fmt: skip
            pending = [{"type": "http.request", "body": b"", "more_body": False}]
            status = []

            async def receive():
                if pending:
                    return pending.pop(0)
                await asyncio.Future()

            async def send(message):
                if message["type"] == "http.response.start":
                    status.append(message["status"])

            await application(scope, receive, send)
            return status[0]

        async def run(path: str, count: int) -> None:
            for _ in range(count):
                assert await one(path) == 200, path

        def run_sync(path: str, count: int) -> None:
            for _ in range(count):
                response = sync_client.get(path, headers=auth)
                assert response.status_code == 200, (path, response.status_code)

        from accounts.api_keys import get_user_for_api_key

        user = get_user_for_api_key(auth["Authorization"].split()[1])[0]
        request = type("Request", (), {"headers": {}})()
        blocking_parts = {
            "file full": lambda: _load_file(user, task["embed_id"], "full", request),
            "poll running": lambda: _poll(user, running["task_id"]),
            "poll completed": lambda: _poll(user, task["task_id"]),
        }
        for name, path in paths.items():
            asyncio.run(run(path, 20))  # warm up pools and caches
            run_sync(path, 20)
            start = time.perf_counter()
            asyncio.run(run(path, REQUESTS))
            asgi_ms = (time.perf_counter() - start) * 1000 / REQUESTS
            start = time.perf_counter()
            run_sync(path, REQUESTS)
            sync_ms = (time.perf_counter() - start) * 1000 / REQUESTS
            print(f"===== {name}: {asgi_ms:.2f} ms per request through the ASGI app, {sync_ms:.2f} ms sync")
            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
            asyncio.run(run(path, REQUESTS))
            profiler.stop()
            print("--- the event loop's thread")
            print(report(profiler))
            if name in blocking_parts:
                part = blocking_parts[name]
                profiler = Profiler(interval=0.0002)
                profiler.start()
                for _ in range(REQUESTS):
                    part()
                profiler.stop()
                print("--- its blocking call, on this thread")
                print(report(profiler))


if __name__ == "__main__":
    main()
