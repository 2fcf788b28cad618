"""Decompression bombs: BOMBS parallel uploads of a 15 KB 1-bit PNG of 6320×6320 (40 M pixels
once decoded, just under MAX_IMAGE_PIXELS) against one embedded-default server process.

Prints the server's RSS before the burst, its peak during it and what it holds 2 s and 10 s
after, how long the burst took, the answers it got, and the latency of /healthz polled every
0.2 s throughout (the server must stay responsive while it works through the burst).

Run: `.venv/bin/python bench/bombs.py` (env: BOMBS=16, IMAGE_MEMORY_BUDGET_MB=0 for the default
sized to RAM, UPLOAD_RATE_LIMIT_PER_MINUTE=1000 so the per-user limit does not hide the cost).
"""

from __future__ import annotations

import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
BOMBS = int(os.environ.get("BOMBS", "16"))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (6320, 6320)).save(buffer, "PNG")
    return buffer.getvalue()


def start_server(data_dir: str) -> tuple[subprocess.Popen, str, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", data_dir),
        "DATA_DIR": data_dir,
        "DJANGO_SETTINGS_MODULE": "openmates_images.settings",
        "UPLOAD_RATE_LIMIT_PER_MINUTE": os.environ.get("UPLOAD_RATE_LIMIT_PER_MINUTE", "1000"),
        "IMAGE_MEMORY_BUDGET_MB": os.environ.get("IMAGE_MEMORY_BUDGET_MB", "0"),
        "IMAGE_QUEUE_SECONDS": os.environ.get("IMAGE_QUEUE_SECONDS", "120"),
    }
    run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], **run)
    key = subprocess.run([sys.executable, "manage.py", "create_api_key", "bench"], **run).stdout.split()[-1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "openmates_images.asgi:application", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base, key
        except requests.ConnectionError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    data = bomb()
    with tempfile.TemporaryDirectory(prefix="omi-bombs-") as data_dir:
        server, base, key = start_server(data_dir)
        try:
            requests.get(f"{base}/healthz", timeout=5)
            before = rss_mib(server.pid)
            peak = [before]
            latencies: list[float] = []
            done = threading.Event()

            def watch() -> None:
                while not done.is_set():
                    started = time.monotonic()
                    try:
                        requests.get(f"{base}/healthz", timeout=60)
                        latencies.append(time.monotonic() - started)
                    except requests.RequestException:
                        latencies.append(float("inf"))
                    peak[0] = max(peak[0], rss_mib(server.pid))
                    time.sleep(0.2)

            def upload(_: int) -> str:
                try:
                    response = requests.post(
                        f"{base}/v1/embeds/upload",
                        files={"file": ("bomb.png", data, "image/png")},
                        headers={"Authorization": f"Bearer {key}"},
                        timeout=600,
                    )
                except requests.RequestException as exc:
                    return f"connection error ({type(exc).__name__})"
                is_json = response.headers.get("Content-Type") == "application/json"
                return f"{response.status_code}{'' if is_json else ' (not JSON)'}"

            watcher = threading.Thread(target=watch)
            watcher.start()
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=BOMBS) as pool:
                answers = Counter(pool.map(upload, range(BOMBS)))
            wall = time.monotonic() - started
            done.set()
            watcher.join()
            time.sleep(2)
            after_2 = rss_mib(server.pid)
            time.sleep(8)
            after_10 = rss_mib(server.pid)
            alive = server.poll() is None
        finally:
            server.terminate()
            server.wait(10)
    print(f"bombs: {BOMBS} × {len(data):,} bytes (6320×6320, 1-bit) in {wall:.1f} s")
    print(f"answers: {dict(answers)}; server alive after: {alive}")
    print(f"RSS MiB: before {before:.0f}, peak {peak[0]:.0f}, +2 s {after_2:.0f}, +10 s {after_10:.0f}")
    finite = [latency for latency in latencies if latency != float("inf")]
    print(
        f"/healthz during the burst: {len(latencies)} polls, "
        f"p50 {statistics.median(finite) * 1000:.0f} ms, max {max(finite) * 1000:.0f} ms, "
        f"failed {len(latencies) - len(finite)}"
    )


if __name__ == "__main__":
    main()
