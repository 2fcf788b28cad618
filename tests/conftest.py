"""Fixtures for the real services the suite runs against (see tests/settings.py).

* PostgreSQL and Redis: this machine's own servers.
* S3: moto's standalone server over real HTTP, one per xdist worker.
* Vault transit: our compatible HTTP server (tests/fakes/vault_server.py).
* Workers: a real Dramatiq worker on the Redis broker, in this process's threads; tests that
  use it run with ``transaction=True`` so the worker sees committed rows.
"""

from __future__ import annotations

import contextlib
import os
import time
from urllib.parse import urlparse

import pytest


@pytest.fixture(scope="session")
def live_stack():
    """The full stack as processes (tests/live_stack.py), one per test process, shared by the
    tests that only need a running server (the browser tier, the socket test): each signs up
    users of its own. Tests that kill or reconfigure a stack start their own."""
    from tests.live_stack import Stack

    with Stack(web_workers=1, worker_processes=1) as running:
        yield running


@pytest.fixture(scope="session")
def vault_server():
    """Our Vault-transit-compatible HTTP server on the port tests/settings.py chose."""
    from tests.fakes.vault_server import VaultTransitServer

    url = urlparse(os.environ["VAULT_ADDR"])
    server = VaultTransitServer(host=url.hostname, port=url.port, token=os.environ["VAULT_TOKEN"])
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    """moto's standalone S3 server over HTTP, with the chatfiles bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    url = urlparse(os.environ["S3_ENDPOINT_URL"])
    server = ThreadedMotoServer(ip_address=url.hostname, port=url.port, verbose=False)
    server.start()
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=os.environ["S3_BUCKET"])
    yield client
    server.stop()


@pytest.fixture(autouse=True)
def _services(request, vault_server, s3_server):
    """Every test runs with Vault and S3 up (most of the product needs both), and leaves no
    injected fault behind for the next one, and starts with an empty bucket."""
    bucket = os.environ["S3_BUCKET"]
    for page in s3_server.get_paginator("list_objects_v2").paginate(Bucket=bucket):  # 1,000 a page
        listed = page.get("Contents", [])
        if listed:
            s3_server.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": o["Key"]} for o in listed]})
    yield
    vault_server.reset_faults()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test gets its own channel layer object. The layer is a process-wide singleton that
    keeps per-loop state (connections, receive locks); tests run each scenario on a new event
    loop, so a receive one test leaves unfinished must not reach into the next test's loops."""
    yield
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

    layer = channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    if layer is not None and hasattr(layer, "close_pools"):
        from core.realtime import _send_loop

        # The connections it opened on the send loop (closed loops closed their own); one of a
        # loop already gone has nothing left to close.
        with contextlib.suppress(Exception):
            _send_loop.run(layer.close_pools())


@pytest.fixture
def broker():
    from generation.broker import configure_broker

    broker = configure_broker()
    broker.flush_all()
    return broker


@pytest.fixture
def worker(broker, transactional_db):
    """A real Dramatiq worker consuming the test's Redis namespace."""
    import dramatiq

    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()
    # Worker.start adds a middleware naming the worker to the (process-wide) broker, and stop
    # leaves it there: without this, every later test's broker carried one per earlier worker.
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]
    broker.flush_all()


class StubTasks:
    """The in-process tier's task runner: every actor declared again on a Dramatiq StubBroker
    (same functions, names, queues and options), a real Worker on it, and ``join()``, which
    returns once every queued and delayed message of the app's queue has been processed. No Redis
    and no polling: a test waits exactly as long as the work takes."""

    def __init__(self, redis_broker):
        import dramatiq
        from dramatiq.brokers.stub import StubBroker

        from generation.broker import CloseDbConnections
        from generation.conf import conf

        self.queue = conf().QUEUE
        self.broker = StubBroker()
        self.broker.add_middleware(CloseDbConnections())
        for name in redis_broker.get_declared_actors():
            actor = redis_broker.get_actor(name)
            dramatiq.Actor(
                actor.fn,
                broker=self.broker,
                actor_name=actor.actor_name,
                queue_name=actor.queue_name,
                priority=actor.priority,
                options=dict(actor.options),
            )
        self._previous = redis_broker
        dramatiq.set_broker(self.broker)
        self.worker = dramatiq.Worker(self.broker, worker_threads=2, worker_timeout=50)
        self.worker.start()

    def join(self, timeout_ms: int = 30_000) -> None:
        self.broker.join(self.queue, timeout=timeout_ms, fail_fast=True)
        self.worker.join()

    def close(self) -> None:
        import dramatiq

        self.worker.stop()
        self.broker.close()
        dramatiq.set_broker(self._previous)


@pytest.fixture
def stub_tasks(broker, transactional_db):
    """Actors run on a StubBroker by a real worker; ``stub_tasks.join()`` waits for them."""
    tasks = StubTasks(broker)
    yield tasks
    tasks.close()


@pytest.fixture
def make_user(db):
    """Users made by ``tests.factories.UserFactory`` (password ``factories.PASSWORD``)."""
    from tests.factories import UserFactory

    def make(username: str | None = None):
        return UserFactory(username=username) if username else UserFactory()

    return make


@pytest.fixture
def api_client_for():
    """An APIClient authenticated with a fresh API key of the given user."""
    from rest_framework.test import APIClient

    from tests.factories import ApiKeyFactory

    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKeyFactory(owner=user).raw_key}")
        return client

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def alice_api(alice, api_client_for):
    return api_client_for(alice)


@pytest.fixture
def bob_api(bob, api_client_for):
    return api_client_for(bob)


def wait_for_task(client, task_id: str, *, timeout: float = 30.0) -> dict:
    """Poll GET /v1/tasks/{id} until the task is terminal; returns the last body."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = client.get(f"/v1/tasks/{task_id}").json()
        if body.get("status") in {"completed", "failed", "cancelled"}:
            return body
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish in {timeout}s: {body}")


def wait_for_stored(s3, count: int, *, timeout: float = 10.0) -> list[str]:
    """Wait until the test bucket holds exactly ``count`` objects, and return their keys. A task
    deletes its working objects (the provider's staged answer, a shared copy) just after it
    commits its end, so a count taken at that moment can still include them."""
    bucket = os.environ["S3_BUCKET"]
    deadline = time.monotonic() + timeout
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        if len(keys) == count:
            return keys
        assert time.monotonic() < deadline, f"{len(keys)} objects, expected {count}: {keys}"
        time.sleep(0.05)


def pytest_itemcollected(item):
    """The tiers are folders: tests/browser/ drive Chromium, tests/stack/ run the whole stack as
    processes; everything else is the in-process tier (``-m "not browser and not stack"``).
    Marked as each test is collected, so ``-m`` sees the marks when it deselects."""
    parts = item.path.relative_to(item.config.rootpath).parts
    if "browser" in parts:
        item.add_marker(pytest.mark.browser)
    if "stack" in parts:
        item.add_marker(pytest.mark.stack)


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own, which names each test's group
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup`` each test of an ``xdist_group`` must carry its group in its node
    id by now, or the group's tests would be spread over workers (each setting up its own copy
    of a module's stack, users and seed data): pytest-dev/pytest-xdist#1386 did this silently."""
    if getattr(config.option, "loadgroup", False):
        ungrouped = [i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
        if ungrouped:
            pytest.exit(
                f"pytest-xdist did not group {len(ungrouped)} tests, e.g. {ungrouped[0]}", returncode=4
            )
