"""The embedded default as `make run` starts it, as a process the tests talk to over HTTP.

SQLite, the local encrypted object store, the local keyring and in-process workers: nothing
but a data directory. One launcher for every test that needs it (the README flow, the limits
under a burst, the socket's log), each adding only the settings it is about.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class EmbeddedServer:
    base: str
    key: str  # a raw API key of the user "alice"
    data_dir: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def embedded_server(tmp_path: Path, **settings: str) -> Iterator[EmbeddedServer]:
    """Migrate, make alice's API key, serve on a free port until the block ends; ``settings``
    are extra environment variables. A server that does not answer /healthz within a minute
    fails with its log."""
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
        "DJANGO_SETTINGS_MODULE": "openmates_images.settings",
        **settings,
    }
    run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], **run)
    created = subprocess.run([sys.executable, "manage.py", "create_api_key", "alice"], **run)
    key = created.stdout.strip().splitlines()[-1]
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "openmates_images.asgi:application", *("--port", str(port))],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or starting
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise AssertionError(log_path.read_text())
            time.sleep(0.2)
        try:
            yield EmbeddedServer(base, key, tmp_path / "data", log_path)
        finally:
            server.terminate()
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:  # workers asleep in a test's [[sleep:…]]
                server.kill()
                server.wait(10)
