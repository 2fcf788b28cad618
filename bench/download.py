"""Every row of issue 14's table as ratios measured in one run, against the real server.

1. Full stack (tests/live_stack.py: PostgreSQL, Redis, moto S3 over HTTP, the Vault-transit test
   server, uvicorn with WEB_WORKERS processes, Dramatiq workers), CONCURRENCY client threads for
   DURATION seconds each:

   * ``GET /v1/embeds/{id}/file?format=full`` p50 against a raw ``GET`` of the same stored object
     from S3 (target: <= 1.2x);
   * ``GET /v1/tasks/{id}`` rps against ``GET /healthz`` (a bare Django JSON view), for a task
     still running (target >= 0.7x) and a completed one (target >= 0.6x).

2. End to end: E2E_RUNS sequential generations with the Gemini protocol double answering at
   once with a full-size 16:9 image (1344x768), the client polling every 10 ms; the median time
   from request to ``completed`` minus the median of the post-provider pipeline on the same image
   size (bench/pipeline.py's function, measured in a subprocess of this run). Target: <= +50 ms.

3. The embedded default (``make run``: SQLite, local store, local keyring, in-process workers,
   one uvicorn process), EMBEDDED_CONCURRENCY clients: file p50 against /healthz p50 (target
   <= 1.5x) and poll rps against /healthz rps (target >= 0.7x).

The machine is shared and has 2 cores: compare only ratios of one run, and repeat.
Run: `.venv/bin/python bench/download.py` (env: CONCURRENCY=32 EMBEDDED_CONCURRENCY=16
DURATION=10 WARMUP=2 WEB_WORKERS=2 E2E_RUNS=10; every URL is first requested 400 times,
and each row runs WARMUP seconds of its load, uncounted).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.gemini_server import GeminiServer
from tests.live_stack import (
    ROOT,
    Stack,
    free_port,
    prepare_database,
    process_cpu_seconds,
    start_web,
    wait_healthy,
)

CONCURRENCY = int(os.environ.get("CONCURRENCY", "32"))
EMBEDDED_CONCURRENCY = int(os.environ.get("EMBEDDED_CONCURRENCY", "16"))
DURATION = float(os.environ.get("DURATION", "10"))
WARMUP = float(os.environ.get("WARMUP", "2"))
E2E_RUNS = int(os.environ.get("E2E_RUNS", "10"))
E2E_SIZE = (1344, 768)  # Gemini's 16:9 at 1K: the double answers with exactly this
GEMINI = "google/gemini-3-pro-image-preview"


def cpu_by_process(stack) -> dict[str, float]:
    """CPU seconds so far of each process taking part: ours (web), the services, the clients."""
    cpu = {"web": process_cpu_seconds(stack.web.pid), "clients": process_cpu_seconds(os.getpid())}
    for name in ("moto", "vault"):
        cpu[name] = process_cpu_seconds(getattr(stack, name).pid) if hasattr(stack, name) else 0.0
    return cpu


def hammer(
    stack, url: str, headers: dict | None = None, concurrency: int = CONCURRENCY
) -> tuple[float, float, float, dict]:
    """(requests/s, p50 ms, p99 ms, CPU ms per request by process) of GETs of ``url`` from
    ``concurrency`` threads."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    # The same load for WARMUP seconds first, not counted: every web process warms up on its
    # first requests (botocore's S3 model, the shared clients, the caches), which under 32
    # clients on a loaded machine can take longer than the whole measured window.
    measure_at = time.monotonic() + WARMUP
    stop_at = measure_at + DURATION
    cpu_before: dict[str, float] = {}

    def client() -> None:
        nonlocal errors
        session = requests.Session()
        while (now := time.monotonic()) < stop_at:
            start = time.perf_counter()
            response = session.get(url, headers=headers, timeout=30)
            elapsed = time.perf_counter() - start
            if now < measure_at:
                continue
            with lock:
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_at - time.monotonic()))
    cpu_before = cpu_by_process(stack)
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


def warm_up(targets: list[tuple[str, dict | None]], requests_each: int = 400, limit_s: float = 60) -> None:
    """Every web process's first requests of each kind are slow (imports, botocore's S3 model,
    the shared clients, the caches, the database pool filling), and a process that starts late
    on a loaded machine can still be importing when the first row begins: hit every URL
    ``requests_each`` times from 16 threads, uncounted, before any row."""
    deadline = time.monotonic() + limit_s

    def client(url: str, headers: dict | None, count: int) -> None:
        session = requests.Session()
        for _ in range(count):
            if time.monotonic() > deadline:
                return
            session.get(url, headers=headers, timeout=60)

    for url, headers in targets:
        threads = [
            threading.Thread(target=client, args=(url, headers, requests_each // 16)) for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def print_rows(rows: list[tuple[str, tuple]]) -> None:
    print(
        f"{'what':<30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   CPU ms per request: web moto vault clients"
    )
    for name, (rps, p50, p99, cpu) in rows:
        spent = " ".join(f"{cpu[k]:5.1f}" for k in ("web", "moto", "vault", "clients"))
        print(f"{name:<30} {rps:8.1f} {p50:8.1f} {p99:8.1f}   {spent}")


def generate(url: str, auth: dict, **body) -> dict:
    response = requests.post(f"{url}/v1/apps/images/generate", json=body, headers=auth, timeout=30)
    response.raise_for_status()
    return response.json()


def wait_completed(url: str, auth: dict, task_id: str, interval: float = 0.1) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = requests.get(f"{url}/v1/tasks/{task_id}", headers=auth, timeout=30).json()
        if body["status"] in {"completed", "failed", "cancelled"}:
            assert body["status"] == "completed", body
            return body
        time.sleep(interval)
    raise TimeoutError(task_id)


def full_stack_rows(stack: Stack) -> list[tuple[str, tuple]]:
    auth = stack.auth_header()
    task = generate(stack.url, auth, prompt="bench harbour")
    stack.wait_for(task["task_id"])
    embed_id = task["embed_id"]
    # stays "processing" for the whole run (offline provider hook)
    running = generate(stack.url, auth, prompt="bench running [[sleep:3600]]")
    raw_url = stack.raw_object_url(embed_id, "full")
    file_url = f"{stack.url}/v1/embeds/{embed_id}/file?format=full"
    running_url = f"{stack.url}/v1/tasks/{running['task_id']}"
    done_url = f"{stack.url}/v1/tasks/{task['task_id']}"
    warm_up(
        [
            (file_url, auth),
            (raw_url, None),
            (running_url, auth),
            (done_url, auth),
            (f"{stack.url}/healthz", None),
        ]
    )
    return [
        ("GET /file?format=full", hammer(stack, f"{stack.url}/v1/embeds/{embed_id}/file?format=full", auth)),
        ("raw S3 GET of the object", hammer(stack, raw_url)),
        ("GET /v1/tasks/{id} running", hammer(stack, f"{stack.url}/v1/tasks/{running['task_id']}", auth)),
        ("GET /v1/tasks/{id} completed", hammer(stack, f"{stack.url}/v1/tasks/{task['task_id']}", auth)),
        ("GET /healthz (bare view)", hammer(stack, f"{stack.url}/healthz")),
    ]


def end_to_end(stack: Stack, gemini: GeminiServer) -> dict[str, float]:
    """Medians in ms of: client request -> completed, the server's created_at -> finished_at,
    created_at -> started_at (queueing and pick-up), and the Gemini double's own time making and
    sending its answer (the provider's time, which is not ours)."""
    served: list[float] = []
    handle = gemini.handle

    def timed_handle(handler, record: dict) -> None:
        start = time.perf_counter()
        handle(handler, record)
        served.append((time.perf_counter() - start) * 1000)

    gemini.handle = timed_handle
    auth = stack.auth_header()
    generate(stack.url, auth, prompt="warm up", model=GEMINI, aspect_ratio="16:9")  # warm caches
    time.sleep(2)
    figures: dict[str, list[float]] = {"client": [], "server": [], "pickup": [], "provider": []}
    for index in range(E2E_RUNS):
        time.sleep(0.5)  # the workers are idle when a request arrives, as between a user's requests
        start = time.perf_counter()
        task = generate(stack.url, auth, prompt=f"e2e {index}", model=GEMINI, aspect_ratio="16:9")
        body = wait_completed(stack.url, auth, task["task_id"], interval=0.01)
        figures["client"].append((time.perf_counter() - start) * 1000)
        created = _parse(body["created_at"])
        figures["server"].append((_parse(body["finished_at"]) - created) * 1000)
        figures["pickup"].append((_parse(body["started_at"]) - created) * 1000)
        figures["provider"].append(served[-1])
    return {name: statistics.median(values) for name, values in figures.items()}


def _parse(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def pipeline_ms() -> float:
    """bench/pipeline.py's post-provider pipeline on an E2E_SIZE image, median of 10 (a
    subprocess: that module configures Django for the embedded default on import)."""
    code = (
        f"import bench.pipeline as p;png=p.provider_png({E2E_SIZE[0]},{E2E_SIZE[1]});"
        "print(p.median_ms(lambda: p.post_provider(png, sign=True), 10))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return float(out.split()[-1])


class EmbeddedStack:
    """``make run``: one uvicorn process with none of the service variables set."""

    def __enter__(self) -> EmbeddedStack:
        port = free_port()
        data = tempfile.mkdtemp(prefix="omi-bench-embedded-")
        keep = ("PATH", "HOME", "LANG")
        self.env = {k: os.environ[k] for k in keep if k in os.environ}
        self.env.update(
            DATA_DIR=data,
            DJANGO_SETTINGS_MODULE="openmates_images.settings",
            TEST_PROMPT_HOOKS="1",
            LOG_LEVEL="WARNING",
            GENERATION_RATE_LIMIT_PER_MINUTE="100000",
            GENERATION_MAX_CONCURRENT_PER_USER="100000",
        )
        self.api_key = prepare_database(self.env)
        self.url = f"http://127.0.0.1:{port}"
        self.web = start_web(self.env, port)
        wait_healthy(self.url)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        os.killpg(self.web.pid, signal.SIGTERM)
        try:
            self.web.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.web.pid, signal.SIGKILL)


def embedded_rows() -> list[tuple[str, tuple]]:
    with EmbeddedStack() as stack:
        auth = {"Authorization": f"Bearer {stack.api_key}"}
        task = generate(stack.url, auth, prompt="bench harbour")
        wait_completed(stack.url, auth, task["task_id"])
        running = generate(stack.url, auth, prompt="bench running [[sleep:3600]]")
        n = EMBEDDED_CONCURRENCY
        base = f"{stack.url}/v1"
        warm_up(
            [
                (f"{base}/embeds/{task['embed_id']}/file?format=full", auth),
                (f"{base}/tasks/{running['task_id']}", auth),
                (f"{stack.url}/healthz", None),
            ]
        )
        return [
            (
                "embedded GET /file?format=full",
                hammer(stack, f"{stack.url}/v1/embeds/{task['embed_id']}/file?format=full", auth, n),
            ),
            (
                "embedded GET /v1/tasks running",
                hammer(stack, f"{stack.url}/v1/tasks/{running['task_id']}", auth, n),
            ),
            ("embedded GET /healthz", hammer(stack, f"{stack.url}/healthz", None, n)),
        ]


def main() -> None:
    gemini = GeminiServer(downscale=1).start()
    env = {"GOOGLE_API_KEY": "g-test-key", "GEMINI_BASE_URL": gemini.url}
    try:
        with Stack(env=env) as stack:
            print(
                f"full stack: {CONCURRENCY} clients, {DURATION:.0f} s each, {stack.web_workers} web "
                f"processes, {os.cpu_count()} cores"
            )
            idle_before = process_cpu_seconds(stack.worker.pid)
            time.sleep(5)
            idle_cpu = (process_cpu_seconds(stack.worker.pid) - idle_before) / 5 * 100
            print(f"idle worker processes: {idle_cpu:.1f} % of a core (Redis polling)")
            rows = full_stack_rows(stack)
            print_rows(rows)
            e2e = end_to_end(stack, gemini)
    finally:
        gemini.stop()
    pipeline = pipeline_ms()
    print(f"embedded default: {EMBEDDED_CONCURRENCY} clients, 1 web process")
    embedded = embedded_rows()
    print_rows(embedded)
    file_row, raw_row, running_row, done_row, bare_row = (r[1] for r in rows)
    e_file, e_poll, e_bare = (r[1] for r in embedded)
    print()
    print(f"file p50 / raw S3 p50              = {file_row[1] / raw_row[1]:.2f}x (target <= 1.2x)")
    print(f"running task rps / healthz rps     = {running_row[0] / bare_row[0]:.2f}x (target >= 0.7x)")
    print(f"completed task rps / healthz rps   = {done_row[0] / bare_row[0]:.2f}x (target >= 0.6x)")
    ours = e2e["client"] - pipeline - e2e["provider"]
    print(
        f"request -> completed, Gemini double at once, {E2E_SIZE[0]}x{E2E_SIZE[1]}: client "
        f"{e2e['client']:.0f} ms (server {e2e['server']:.0f} ms, of it queued until picked up "
        f"{e2e['pickup']:.0f} ms) - pipeline {pipeline:.0f} ms - the double's own "
        f"{e2e['provider']:.0f} ms = +{ours:.0f} ms (target <= +50 ms)"
    )
    print(f"embedded file p50 / healthz p50    = {e_file[1] / e_bare[1]:.2f}x (target <= 1.5x)")
    print(f"embedded poll rps / healthz rps    = {e_poll[0] / e_bare[0]:.2f}x (target >= 0.7x)")


if __name__ == "__main__":
    main()
