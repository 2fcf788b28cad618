"""The full stack as separate processes, for browser tests and benchmarks: PostgreSQL and Redis
(the machine's), moto's S3 server and the Vault-transit test server (each a process started
here, so neither shares a GIL with the clients), uvicorn with one or more processes and Dramatiq
worker processes, as the production docs describe — on loopback only, with a database of its own
that is dropped at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the worker processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    children_file = Path(f"/proc/{pid}/task/{pid}/children")
    if children_file.exists():
        pids += [int(p) for p in children_file.read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(env: dict) -> str:
    """Migrate the database ``env`` names and return a new API key of a user "bench"."""
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    created = subprocess.run(
        [python, "manage.py", "create_api_key", "bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return created.stdout.strip().splitlines()[-1]


def start_web(env: dict, port: int, *, workers: int = 1) -> subprocess.Popen:
    """uvicorn serving the project in a session of its own (stopped as a group, its worker
    processes too)."""
    command = [sys.executable, "-m", "uvicorn", "openmates_images.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    if workers > 1:
        command += ["--workers", str(workers)]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def wait_healthy(url: str, *, timeout: float = 60) -> None:
    """Until ``url``'s ``/healthz`` answers 200 (not listening yet, or still starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {url} did not start")
        time.sleep(0.2)


class Stack:
    def __init__(
        self, *, web_workers: int | None = None, worker_processes: int | None = None, env: dict | None = None
    ):
        self.web_workers = web_workers or int(os.environ.get("WEB_WORKERS", "2"))
        self.worker_processes = worker_processes or int(os.environ.get("WORKER_PROCESSES", "2"))
        self.extra_env = env or {}
        self.database = f"omi_live_{uuid.uuid4().hex[:8]}"
        # moto keeps one in-memory backend per process: a bucket of our own keeps this stack's
        # objects apart from the test suite's own bucket.
        self.bucket = f"chatfiles-{self.database.replace('_', '-')}"
        self.processes: list[subprocess.Popen] = []

    def _service(self, command: list[str], port: int) -> subprocess.Popen:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.processes.append(process)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return process
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[2]} did not start") from None
                time.sleep(0.1)

    def __enter__(self) -> Stack:
        s3_port, vault_port, web_port = free_port(), free_port(), free_port()
        python = sys.executable
        self.moto = self._service(
            [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)], s3_port
        )
        self.vault = self._service(
            [python, "-m", "tests.fakes.vault_server", "--port", str(vault_port), "--token", "bench-token"],
            vault_port,
        )
        import boto3
        import psycopg

        self.s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{s3_port}",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            region_name="us-east-1",
        )
        self.s3.create_bucket(Bucket=self.bucket)
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{self.database}",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DRAMATIQ_NAMESPACE": f"omi-bench-{self.database}",
            "CHANNELS_PREFIX": f"omi-bench-{self.database}",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "S3_BUCKET": self.bucket,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "VAULT_ADDR": f"http://127.0.0.1:{vault_port}",
            "VAULT_TOKEN": "bench-token",
            "DATA_DIR": tempfile.mkdtemp(prefix="omi-live-"),
            "SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "GENERATION_RATE_LIMIT_PER_MINUTE": "100000",
            "UPLOAD_RATE_LIMIT_PER_MINUTE": "100000",
            "GENERATION_MAX_CONCURRENT_PER_USER": "100000",
            "LOG_LEVEL": "WARNING",
            "TEST_PROMPT_HOOKS": "1",
            "DJANGO_SETTINGS_MODULE": "openmates_images.settings",
            **self.extra_env,
        }
        self.api_key = prepare_database(self.env)
        self.url = f"http://127.0.0.1:{web_port}"
        self.web = start_web(self.env, web_port, workers=self.web_workers)
        self.processes.append(self.web)
        self.worker = self.start_worker()
        wait_healthy(self.url)
        return self

    def start_worker(self) -> subprocess.Popen:
        """Dramatiq worker processes in a session of their own, so they can be killed as a group."""
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq",
                "openmates_images.workers",
                "--processes",
                str(self.worker_processes),
                "--threads",
                self.env.get("WORKER_THREADS", "2"),
                "--queues",
                "app_images",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log("worker"),
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def _log(self, name: str):
        """Where a process's stderr goes: a file under STACK_LOG_DIR when set (to read after a
        benchmark), else nowhere (the tests assert on behaviour, not on log lines)."""
        log_dir = os.environ.get("STACK_LOG_DIR")
        if not log_dir:
            return subprocess.DEVNULL
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        return open(Path(log_dir) / f"{name}.log", "ab")  # the child process writes to it

    def kill_worker(self) -> None:
        """SIGKILL every worker process, mid-whatever it was doing."""
        import contextlib
        import signal

        # The whole group may be gone already (the parent exits when a worker dies).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(10)

    def api_keys(self, count: int) -> list[str]:
        """API keys of ``count`` new users (one subprocess for all of them)."""
        code = (
            "import django,sys;django.setup();from django.contrib.auth import get_user_model;"
            "from accounts.api_keys import do_create_api_key;U=get_user_model();"
            "[print(do_create_api_key(U.objects.create_user(f'load-{sys.argv[1]}-{i}')).raw_key)"
            " for i in range(int(sys.argv[2]))]"
        )
        created = subprocess.run(
            [sys.executable, "-c", code, uuid.uuid4().hex[:6], str(count)],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return created.stdout.split()

    def auth_header(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"}

    def wait_for(self, task_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = requests.get(
                f"{self.url}/v1/tasks/{task_id}", headers=self.auth_header(), timeout=30
            ).json()
            if body["status"] in {"completed", "failed", "cancelled"}:
                return body
            time.sleep(0.1)
        raise TimeoutError(task_id)

    def raw_object_url(self, embed_id: str, variant: str) -> str:
        """A presigned URL of the stored (encrypted) object, for a raw-GET baseline."""
        objects = self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        code = (
            "import django,sys;django.setup();from embeds.storage import object_name;"
            "from embeds.models import Embed;e=Embed.objects.get(pk=sys.argv[1]);"
            "print(object_name(e.owner_id,e.id,sys.argv[2]))"
        )
        name = subprocess.run(
            [sys.executable, "-c", code, embed_id, variant],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert any(o["Key"] == name for o in objects), name
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": name}, ExpiresIn=3600
        )

    def __exit__(self, *exc) -> None:
        import contextlib
        import signal

        # Every process runs in a session of its own: stop each whole group, children included,
        # and kill what has not stopped after a grace period (an orphaned uvicorn worker would
        # keep its port and its parent's output pipe open).
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
