"""The Redis broker's doorbell (generation.broker.DoorbellRedisBroker), against real Redis.

Each test has a namespace of its own and waits far longer than anything should take: a thread
left blocked means the consumer slept through a ring (its wait is a minute, so a wake by timeout
cannot pass for a wake by the bell)."""

from __future__ import annotations

import threading
import uuid

import dramatiq
import pytest
import redis
from django.conf import settings
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from dramatiq.errors import ConnectionClosed

from generation.broker import DoorbellRedisBroker
from tests.live_stack import free_port

A_MINUTE_MS = 60_000
QUEUE = "doorbell"


def make_broker(url: str | None = None, *, wait_ms: int = A_MINUTE_MS) -> DoorbellRedisBroker:
    broker = DoorbellRedisBroker(
        url=url or settings.REDIS_URL,
        namespace=f"omi-doorbell-{uuid.uuid4().hex}",
        wait_ms=wait_ms,
        poll_ms=5,
        rings_kept=4,
        ttl_ms=30_000,
    )
    broker.declare_queue(QUEUE)
    return broker


@pytest.fixture
def broker():
    broker = make_broker()
    yield broker
    broker.flush_all()
    for key in broker.client.keys(f"{broker.namespace}:*"):
        broker.client.delete(key)
    broker.close()


def message(broker) -> dramatiq.Message:
    return dramatiq.Message(queue_name=QUEUE, actor_name="noop", args=(), kwargs={}, options={})


class Next(threading.Thread):
    """``next(consumer)`` on a thread of its own, keeping what it returned."""

    def __init__(self, consumer) -> None:
        super().__init__(daemon=True)
        self.consumer = consumer
        self.result: object = "not returned"
        self.started_waiting = threading.Event()

    def run(self) -> None:
        self.started_waiting.set()
        self.result = next(self.consumer)


def wait_blocked(broker, thread: Next) -> None:
    """Until the thread's consumer is blocked in BLPOP (Redis lists it as a blocked client)."""
    thread.started_waiting.wait(10)
    for _ in range(2000):
        if broker.client.info("clients")["blocked_clients"] > 0:
            return
        threading.Event().wait(0.005)
    raise AssertionError("the consumer never waited on the bell")


def test_a_send_wakes_a_consumer_waiting_on_an_empty_queue(broker):
    consumer = broker.consume(QUEUE, prefetch=1, timeout=A_MINUTE_MS)
    waiting = Next(consumer)
    waiting.start()
    wait_blocked(broker, waiting)

    broker.enqueue(message(broker))
    waiting.join(30)

    assert not waiting.is_alive(), "the ring did not wake the consumer"
    assert waiting.result is None  # woken: the next call fetches
    assert next(consumer).actor_name == "noop"


def test_a_message_queued_without_a_ring_is_fetched_at_the_wait_timeout():
    broker = make_broker(wait_ms=50)
    try:
        # Dramatiq's own send, as its maintenance re-queueing or a sender without the bell
        RedisBroker.enqueue(broker, message(broker))
        consumer = broker.consume(QUEUE, prefetch=1, timeout=A_MINUTE_MS)
        first = next(consumer)
        assert first.actor_name == "noop"  # already there: the first fetch has it
        consumer.ack(first)

        RedisBroker.enqueue(broker, message(broker))
        found = None
        for _ in range(100):
            found = next(consumer)
            if found is not None:
                break
        assert found is not None and found.actor_name == "noop"
        assert broker.client.llen(broker.bell(QUEUE)) == 0  # nothing rang
    finally:
        broker.flush_all()
        broker.close()


def test_rings_are_bounded_and_expire(broker):
    for _ in range(50):
        broker.enqueue(message(broker))

    bell = broker.bell(QUEUE)
    assert broker.client.llen(bell) == 4
    assert 0 < broker.client.pttl(bell) <= 30_000


def test_a_delayed_send_rings_the_delay_queue_and_a_worker_runs_it_when_due(broker):
    ran = threading.Event()

    @dramatiq.actor(broker=broker, queue_name=QUEUE, actor_name="doorbell_delayed", max_retries=0)
    def delayed() -> None:
        ran.set()

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=A_MINUTE_MS)
    worker.start()
    try:
        delayed.send_with_options(delay=300)
        assert broker.client.llen(broker.bell(dq_name(QUEUE))) <= 1  # rang (or already answered)
        assert ran.wait(30), "the delayed message never ran"
    finally:
        # its worker thread waits up to worker_timeout on its work queue: not joined for that
        worker.stop(timeout=1000)


def test_a_stopping_worker_wakes_its_consumers(broker):
    consumer = broker.consume(QUEUE, prefetch=1, timeout=A_MINUTE_MS)
    waiting = Next(consumer)
    waiting.start()
    wait_blocked(broker, waiting)

    broker.emit_before("worker_shutdown", dramatiq.Worker(broker, worker_threads=1))
    waiting.join(30)

    assert not waiting.is_alive(), "the shutdown did not wake the consumer"
    assert broker.stopping
    assert next(consumer) is None  # polls from now on: returns after poll_ms, no BLPOP
    broker.emit_before("worker_boot", dramatiq.Worker(broker, worker_threads=1))
    assert not broker.stopping


def test_redis_out_of_reach_is_dramatiqs_connection_closed():
    broker = make_broker(f"redis://127.0.0.1:{free_port()}/0")
    consumer = broker.consume(QUEUE, prefetch=1, timeout=A_MINUTE_MS)

    with pytest.raises(ConnectionClosed):
        next(consumer)
    with pytest.raises(redis.ConnectionError):  # a send still fails loudly (nothing was queued)
        broker.enqueue(message(broker))


def test_a_consumer_whose_wait_redis_cut_off_still_gets_the_next_message(broker):
    """Redis dropping the waiting connection (a restart) ends the wait as Dramatiq's
    ConnectionClosed, or redis-py reconnects and waits again; either way the next send arrives."""
    consumer = broker.consume(QUEUE, prefetch=1, timeout=A_MINUTE_MS)
    failed: list[BaseException] = []
    waiting = Next(consumer)

    def run() -> None:
        try:
            Next.run(waiting)
        except ConnectionClosed as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_blocked(broker, waiting)
    for client in broker.client.client_list():
        if client.get("cmd") == "blpop":
            broker.client.client_kill_filter(_id=client["id"])

    broker.enqueue(message(broker))
    thread.join(30)

    assert not thread.is_alive(), "the consumer neither failed nor woke"
    if failed:  # the worker's consumer thread opens a new consumer
        consumer = broker.consume(QUEUE, prefetch=1, timeout=A_MINUTE_MS)
    found = next(consumer) or next(consumer)
    assert found is not None and found.actor_name == "noop"
