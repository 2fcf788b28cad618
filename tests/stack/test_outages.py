"""Dependencies going down mid-flight: S3 during generation, a Redis restart, dropped database
connections. Jobs retry and complete when the dependency returns, or fail with a clear code after
the retry budget; requests answer 503, never a 500; nothing half-written stays behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from urllib.parse import urlparse

import pytest
import requests

from tests.conftest import wait_for_stored, wait_for_task
from tests.fakes.fault_proxy import FaultProxy
from tests.live_stack import Stack, free_port

pytestmark = pytest.mark.faults


@pytest.fixture
def s3_proxy(settings, s3_server):
    """The chatfiles storage reaches moto through a proxy the test can take down."""
    proxy = FaultProxy(urlparse(os.environ["S3_ENDPOINT_URL"]).port)
    chatfiles = settings.STORAGES["chatfiles"]
    settings.STORAGES = {
        **settings.STORAGES,
        "chatfiles": {**chatfiles, "OPTIONS": {**chatfiles["OPTIONS"], "endpoint_url": proxy.url}},
    }
    yield proxy
    proxy.close()


def wait_until(condition, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_generation_waits_out_an_s3_outage(alice_api, worker, s3_proxy, s3_server, settings):
    settings.GENERATION = {
        **settings.GENERATION,
        "MAX_RETRIES": 10,
        "RETRY_MIN_BACKOFF_MS": 200,
        "RETRY_MAX_BACKOFF_MS": 1000,
    }
    task = alice_api.post("/v1/apps/images/generate", {"prompt": "pier [[sleep:0.5]]"}, format="json").json()
    s3_proxy.set_down(True)
    wait_until(lambda: alice_api.get(f"/v1/tasks/{task['task_id']}").json()["attempts"] >= 2, what="a retry")
    download = alice_api.get(f"/v1/embeds/{task['embed_id']}/file?format=preview")
    assert download.status_code == 409  # still processing: no 5xx for a client meanwhile
    s3_proxy.set_down(False)
    done = wait_for_task(alice_api, task["task_id"], timeout=60)
    assert done["status"] == "completed" and done["attempts"] >= 2, done
    wait_for_stored(s3_server, 3)
    assert alice_api.get(f"/v1/embeds/{task['embed_id']}/file?format=full").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_s3_outage_longer_than_the_retry_budget_fails_cleanly(
    alice_api, worker, s3_proxy, s3_server, settings
):
    settings.GENERATION = {**settings.GENERATION, "MAX_RETRIES": 1}
    s3_proxy.set_down(True)
    task = alice_api.post("/v1/apps/images/generate", {"prompt": "pier"}, format="json").json()
    done = wait_for_task(alice_api, task["task_id"], timeout=60)
    assert done["status"] == "failed" and done["attempts"] == 2
    assert done["error"]["code"] == "service_unavailable"
    s3_proxy.set_down(False)
    content = alice_api.get(f"/v1/embeds/{task['embed_id']}/content").json()
    assert content["status"] == "error" and content["files"] is None
    wait_for_stored(s3_server, 0)  # nothing half-written stays


@pytest.fixture
def private_redis():
    """A Redis server of this test's own (restarting the machine's would hit other tests)."""
    port = free_port()
    directory = tempfile.mkdtemp(prefix="omi-redis-")
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", directory]

    def start() -> subprocess.Popen:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(
            lambda: (
                subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0
            )
        )
        return process

    server = {"process": start()}

    def restart() -> None:
        server["process"].terminate()
        server["process"].wait(10)
        time.sleep(1)  # down for a moment: sends and polls in between fail
        server["process"] = start()

    yield f"redis://127.0.0.1:{port}/0", restart
    server["process"].terminate()
    server["process"].wait(10)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.xdist_group("stack")
def test_jobs_survive_a_redis_restart(private_redis):
    """Redis keeps nothing on disk: a restart loses every queued message. The stale-task reaper
    sends them again; requests made while Redis is down still answer 202."""
    redis_url, restart = private_redis
    env = {"REDIS_URL": redis_url, "STALE_TASK_SECONDS": "2", "REAPER_INTERVAL_SECONDS": "0.5"}
    with Stack(web_workers=1, worker_processes=1, env=env) as stack:
        auth = stack.auth_header()

        def submit(prompt: str) -> dict:
            response = requests.post(
                f"{stack.url}/v1/apps/images/generate", json={"prompt": prompt}, headers=auth, timeout=30
            )
            assert response.status_code == 202, response.text
            return response.json()

        tasks = [submit(f"before restart {i} [[sleep:1]]") for i in range(6)]
        restarting = threading.Thread(target=restart)
        restarting.start()
        time.sleep(0.3)
        tasks.append(submit("while redis is down"))  # committed; its message is sent later
        restarting.join()
        tasks += [submit(f"after restart {i}") for i in range(3)]
        done = [stack.wait_for(task["task_id"], timeout=90) for task in tasks]
        assert [d["status"] for d in done] == ["completed"] * len(tasks), done


@pytest.mark.xdist_group("stack")
def test_dropped_database_connections_cost_a_retry_not_a_job():
    import psycopg

    env = {"STALE_TASK_SECONDS": "3", "REAPER_INTERVAL_SECONDS": "0.5"}
    with Stack(web_workers=1, worker_processes=1, env=env) as stack:
        auth = stack.auth_header()
        first = requests.post(
            f"{stack.url}/v1/apps/images/generate", json={"prompt": "anchor"}, headers=auth, timeout=30
        ).json()
        stack.wait_for(first["task_id"])
        tasks = [
            requests.post(
                f"{stack.url}/v1/apps/images/generate",
                json={"prompt": f"dropped {i} [[sleep:1]]"},
                headers=auth,
                timeout=30,
            ).json()
            for i in range(4)
        ]
        statuses: list[int] = []
        for _ in range(3):  # cut every connection of the app's database, a few times
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (stack.database,),
                )
            for _ in range(5):
                statuses.append(
                    requests.get(
                        f"{stack.url}/v1/embeds/{first['embed_id']}/file?format=preview",
                        headers=auth,
                        timeout=30,
                    ).status_code
                )
            time.sleep(0.4)
        assert set(statuses) <= {200, 503}, statuses  # a 503 to retry at worst, never a 500
        assert statuses[-1] == 200
        done = [stack.wait_for(task["task_id"], timeout=90) for task in tasks]
        assert [d["status"] for d in done] == ["completed"] * len(tasks), done


@pytest.mark.xdist_group("stack")
def test_a_worker_short_of_database_connections_retries_the_claim_instead_of_dropping_the_job():
    """More worker threads than pooled connections: a thread that cannot get one in time has done
    nothing yet, so its message is delivered again (with backoff) rather than dropped, which left
    the task ``queued`` until the reaper's deadline (15 minutes by default)."""
    env = {
        "WORKER_THREADS": "4",
        "DATABASE_POOL_SIZE": "1",
        "DATABASE_POOL_TIMEOUT": "0.3",
        "GENERATION_RETRY_MIN_BACKOFF_MS": "200",
        "GENERATION_RETRY_MAX_BACKOFF_MS": "2000",
    }
    with Stack(web_workers=1, worker_processes=1, env=env) as stack:
        auth = stack.auth_header()
        tasks = [
            requests.post(
                f"{stack.url}/v1/apps/images/generate",
                json={"prompt": f"short of connections {i} [[sleep:1]]"},
                headers=auth,
                timeout=30,
            ).json()
            for i in range(4)
        ]
        done = [stack.wait_for(task["task_id"], timeout=60) for task in tasks]
        assert [d["status"] for d in done] == ["completed"] * len(tasks), done
        assert max(d["attempts"] for d in done) == 1  # retried deliveries, not retried attempts
