"""Download and polling throughput against the real server, compared in the same run.

Starts the app on the full stack of this machine (PostgreSQL, Redis, moto S3 over HTTP, the
Vault-transit test server) under uvicorn with WEB_WORKERS processes, generates one image, then
with CONCURRENCY client threads measures for DURATION seconds each:

* ``GET /v1/embeds/{id}/file?format=full`` (auth, Vault unwrap, S3 GET, AES-GCM decrypt)
  against a raw ``GET`` of the same stored object from S3 (target: ≤ 1.2× the latency);
* ``GET /v1/tasks/{id}`` against ``GET /healthz`` (a bare Django JSON view; target ≥ 0.7× rps),
  for a task still running (what a polling client mostly asks: auth + one query) and for a
  completed one (its file metadata is encrypted: one Vault unwrap more).

Run: `.venv/bin/python bench/download.py` (env: CONCURRENCY=32 DURATION=10 WEB_WORKERS=2).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.live_stack import Stack, process_cpu_seconds

CONCURRENCY = int(os.environ.get("CONCURRENCY", "32"))
DURATION = float(os.environ.get("DURATION", "10"))


def cpu_by_process(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of each process taking part: ours (web), the services, the clients."""
    return {
        "web": process_cpu_seconds(stack.web.pid),
        "moto": process_cpu_seconds(stack.moto.pid),
        "vault": process_cpu_seconds(stack.vault.pid),
        "clients": process_cpu_seconds(os.getpid()),
    }


def hammer(stack: Stack, url: str, headers: dict | None = None) -> tuple[float, float, float, dict]:
    """(requests/s, p50 ms, p99 ms, CPU ms per request by process) of GETs of ``url`` from
    CONCURRENCY threads."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + DURATION

    def client() -> None:
        nonlocal errors
        session = requests.Session()
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            response = session.get(url, headers=headers, timeout=30)
            elapsed = time.perf_counter() - start
            with lock:
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1

    cpu_before = cpu_by_process(stack)
    threads = [threading.Thread(target=client) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu_after = cpu_by_process(stack)
    if errors:
        print(f"  ({errors} non-200 answers from {url})")
    latencies.sort()
    served = max(1, len(latencies) + errors)
    cpu = {name: (cpu_after[name] - cpu_before[name]) * 1000 / served for name in cpu_after}
    return (
        len(latencies) / DURATION,
        statistics.median(latencies) * 1000,
        latencies[int(len(latencies) * 0.99) - 1] * 1000,
        cpu,
    )


def main() -> None:
    with Stack() as stack:
        auth = stack.auth_header()
        task = requests.post(
            f"{stack.url}/v1/apps/images/generate", json={"prompt": "bench harbour"}, headers=auth, timeout=30
        ).json()
        stack.wait_for(task["task_id"])
        embed_id = task["embed_id"]
        running = requests.post(  # stays "processing" for the whole run (offline provider hook)
            f"{stack.url}/v1/apps/images/generate",
            json={"prompt": "bench running [[sleep:3600]]"},
            headers=auth,
            timeout=30,
        ).json()
        raw_url = stack.raw_object_url(embed_id, "full")
        print(
            f"{CONCURRENCY} clients, {DURATION:.0f} s each, {stack.web_workers} web processes, "
            f"{os.cpu_count()} cores"
        )
        rows = [
            (
                "GET /file?format=full",
                hammer(stack, f"{stack.url}/v1/embeds/{embed_id}/file?format=full", auth),
            ),
            ("raw S3 GET of the object", hammer(stack, raw_url)),
            ("GET /v1/tasks/{id} running", hammer(stack, f"{stack.url}/v1/tasks/{running['task_id']}", auth)),
            ("GET /v1/tasks/{id} completed", hammer(stack, f"{stack.url}/v1/tasks/{task['task_id']}", auth)),
            ("GET /healthz (bare view)", hammer(stack, f"{stack.url}/healthz")),
        ]
        print(
            f"{'what':<28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
            "   CPU ms per request: web moto vault clients"
        )
        for name, (rps, p50, p99, cpu) in rows:
            spent = " ".join(f"{cpu[k]:5.1f}" for k in ("web", "moto", "vault", "clients"))
            print(f"{name:<28} {rps:8.1f} {p50:8.1f} {p99:8.1f}   {spent}")
        file_row, raw_row, running_row, done_row, bare_row = (r[1] for r in rows)
        print(f"file p50 / raw p50 = {file_row[1] / raw_row[1]:.2f}x (target <= 1.2x)")
        print(f"running task rps / bare rps = {running_row[0] / bare_row[0]:.2f}x (target >= 0.7x)")
        print(f"completed task rps / bare rps = {done_row[0] / bare_row[0]:.2f}x")


if __name__ == "__main__":
    main()
