"""Load: CLIENTS concurrent clients each submit a generation, poll it to the end, then download
all three formats, against the full stack with real worker processes.

The provider is the offline generator with a fixed latency (``[[sleep:LATENCY]]`` in the prompt:
the provider double waits, as a remote provider would, without using CPU). Each client is a user
of its own with an API key; it opens the WebSocket with that key (``Authorization: Bearer``),
submits over REST and waits for its task's final ``embed_update``, as the README recommends over
polling. With POLL=1 clients poll ``GET /v1/tasks/{id}`` instead, again after the task's
``eta_seconds`` (between 0.25 s and 2 s), to show what polling costs.
Prints throughput, end-to-end p50/p95/p99, jobs lost (must be 0), the CPU each image cost the
server (web and worker processes, measured from /proc), and the CPU bound (cores ÷ server CPU per
image) with the ratio achieved. The clients, moto and the Vault double run on the same cores and
are not counted, so the ratio shows how much of the machine the server could have used; the last
line says where the rest of the machine's CPU went.

Run: `.venv/bin/python bench/load.py` (env: CLIENTS=200 LATENCY=2 POLL=0 WEB_WORKERS=2
WORKER_PROCESSES=2 WORKER_THREADS=16).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import requests
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.live_stack import Stack, process_cpu_seconds


def machine_cpu_seconds() -> tuple[float, float]:
    """Busy and idle CPU seconds of the whole machine, summed over its cores (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / ticks, idle / ticks


CLIENTS = int(os.environ.get("CLIENTS", "200"))
LATENCY = float(os.environ.get("LATENCY", "2"))
POLL = os.environ.get("POLL", "0") == "1"
TERMINAL = {"completed", "failed", "cancelled"}


def poll_until_done(session: requests.Session, url: str, task_id: str, auth: dict) -> dict:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        body = session.get(f"{url}/v1/tasks/{task_id}", headers=auth, timeout=60).json()
        if body["status"] in TERMINAL:
            return body
        time.sleep(min(2.0, max(0.25, body.get("eta_seconds") or 0.0)))
    return body


def listen_until_done(socket, task_id: str) -> dict:
    deadline = time.monotonic() + 600
    while True:
        message = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        payload = message.get("payload") or {}
        mine = message.get("type") == "embed_update" and payload.get("task_id") == task_id
        if mine and payload.get("status") in TERMINAL:
            return payload


def main() -> None:
    os.environ.setdefault("WORKER_THREADS", "16")
    with Stack(env={"WORKER_THREADS": os.environ["WORKER_THREADS"]}) as stack:
        keys = stack.api_keys(CLIENTS)
        socket_url = stack.url.replace("http://", "ws://") + "/ws/"
        server_pids = (stack.web.pid, stack.worker.pid)
        worker_before = process_cpu_seconds(stack.worker.pid)
        server_before = sum(process_cpu_seconds(pid) for pid in server_pids)
        others = (stack.moto.pid, stack.vault.pid)
        others_before = sum(process_cpu_seconds(pid) for pid in others)
        clients_before = time.process_time()
        busy_before, idle_before = machine_cpu_seconds()
        durations: list[float] = []
        lost: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(CLIENTS)

        def client(index: int) -> None:
            auth = {"Authorization": f"Bearer {keys[index]}"}
            session = requests.Session()
            closing = contextlib.ExitStack()
            try:
                socket = (
                    None
                    if POLL
                    else closing.enter_context(connect(socket_url, additional_headers=auth, open_timeout=120))
                )
            except Exception as exc:  # still meet the others at the barrier, then count it lost
                socket = exc
            barrier.wait()
            if isinstance(socket, Exception):
                with lock:
                    lost.append(f"{index}: socket {type(socket).__name__} {socket}")
                return
            start = time.perf_counter()
            try:
                task = session.post(
                    f"{stack.url}/v1/apps/images/generate",
                    json={"prompt": f"load test {index} [[sleep:{LATENCY}]]", "aspect_ratio": "16:9"},
                    headers=auth,
                    timeout=60,
                ).json()
                if socket is None:
                    body = poll_until_done(session, stack.url, task["task_id"], auth)
                else:
                    body = listen_until_done(socket, task["task_id"])
                if body["status"] != "completed":
                    raise RuntimeError(
                        f"{body['task_id']} {body['status']} {body['stage']} attempts={body['attempts']}"
                    )
                for variant in ("preview", "full", "original"):
                    response = session.get(
                        f"{stack.url}/v1/embeds/{task['embed_id']}/file?format={variant}",
                        headers=auth,
                        timeout=60,
                    )
                    response.raise_for_status()
                with lock:
                    durations.append(time.perf_counter() - start)
            except Exception as exc:  # a lost job is what this benchmark counts
                with lock:
                    lost.append(f"{index}: {type(exc).__name__} {exc}")
            finally:
                closing.close()

        wall_start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - wall_start
        worker_cpu = process_cpu_seconds(stack.worker.pid) - worker_before
        cpu = sum(process_cpu_seconds(pid) for pid in server_pids) - server_before
        others_cpu = sum(process_cpu_seconds(pid) for pid in others) - others_before
        clients_cpu = time.process_time() - clients_before
        busy_after, idle_after = machine_cpu_seconds()
        busy, idle = busy_after - busy_before, idle_after - idle_before
        done = len(durations)
        durations.sort()
        cores = os.cpu_count() or 1
        per_image = cpu / max(done, 1)
        bound = cores / per_image if per_image else float("inf")
        throughput = done / wall
        print(
            f"{CLIENTS} clients ({'polling' if POLL else 'listening on the WebSocket'}), "
            f"provider latency {LATENCY}s, {cores} cores, "
            f"{stack.web_workers} web processes, "
            f"{stack.worker_processes}x{os.environ['WORKER_THREADS']} worker threads"
        )
        print(f"completed {done}, lost {len(lost)}, wall {wall:.1f}s, throughput {throughput:.2f} images/s")
        if durations:
            pct = lambda q: durations[min(len(durations) - 1, int(len(durations) * q))]  # noqa: E731
            print(
                f"end to end p50 {statistics.median(durations):.2f}s "
                f"p95 {pct(0.95):.2f}s p99 {pct(0.99):.2f}s"
            )
        worker_ms = worker_cpu / max(done, 1) * 1000
        print(
            f"server CPU per image {per_image * 1000:.0f} ms (workers {worker_ms:.0f} ms) "
            f"-> CPU bound {bound:.2f} images/s; achieved {throughput / bound:.2f} of it (target >= 0.8)"
        )
        print(
            f"machine CPU over the run: {busy / (busy + idle):.0%} busy; of the busy time, server "
            f"{cpu / busy:.0%}, clients {clients_cpu / busy:.0%}, moto S3 + Vault double "
            f"{others_cpu / busy:.0%}, rest (PostgreSQL, Redis, system) "
            f"{max(0.0, busy - cpu - clients_cpu - others_cpu) / busy:.0%}"
        )
        for line in lost[:10]:
            print("lost:", line)


if __name__ == "__main__":
    main()
