"""The Dramatiq broker: Redis in the full stack, an in-process stub broker in the embedded default.

With no ``REDIS_URL`` the web process runs the workers itself (``start_inprocess_workers``), so
``make run`` needs no other service. Everything above this module is the same in both modes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import dramatiq
import redis
from django.conf import settings
from django.db import DatabaseError, transaction
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import q_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from .conf import conf

logger = logging.getLogger(__name__)
# Dramatiq's Redis consumer polls an empty queue with a backoff growing to the worker timeout
# (1 s), so a job sent to an idle worker waited ~0.5 s on average before it started. Here every
# send also rings the queue's doorbell (a short Redis list, ``DoorbellRedisBroker``), and an
# idle consumer waits on it with BLPOP for up to DOORBELL_WAIT_MS: a message sent to an idle
# worker starts at once, and an idle worker costs one Redis call per second instead of forty.
# A consumer that holds delayed messages, or has no room for more, polls every IDLE_POLL_MS.
IDLE_POLL_MS = 25
DOORBELL_WAIT_MS = 1000
# A bell is a wake-up call, not a count: a burst of sends leaves at most this many rings.
DOORBELL_RINGS_KEPT = 16
DOORBELL_TTL_MS = 60_000
_inprocess_worker: dramatiq.Worker | None = None
_lock = threading.Lock()

# The actors' names: queued messages carry them, so they never change. Senders name the actor
# here instead of importing it, so only app start-up (GenerationConfig.ready) imports actors.py.
RUN_TASK = "generation.run_task"
DELIVER_WEBHOOK = "generation.deliver_webhook"


def enqueue(actor_name: str, *args: object, delay_ms: int | None = None) -> None:
    """Send a message naming ``actor_name`` now, with ids as its arguments (never payloads)."""
    actor = dramatiq.get_broker().get_actor(actor_name)
    actor.send_with_options(args=args, delay=delay_ms or None)


def enqueue_on_commit(actor_name: str, *args: object, delay_ms: int | None = None) -> None:
    """Send the message once the surrounding transaction commits (at once outside one).

    The rows it names are committed by then, so a broker that is down must not turn the request
    into an error: the send is logged and skipped, and the reaper re-sends a task left queued."""

    def send() -> None:
        try:
            enqueue(actor_name, *args, delay_ms=delay_ms)
        except Exception:
            logger.warning("generation.enqueue_failed actor=%s args=%s", actor_name, args, exc_info=True)

    transaction.on_commit(send)


class CloseDbConnections(Middleware):
    """Close stale connections around each message, as Django does around each request."""

    def before_process_message(self, broker, message) -> None:
        from django.db import close_old_connections

        close_old_connections()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        from django.db import close_old_connections

        close_old_connections()

    after_skip_message = after_process_message


class DoorbellRedisBroker(RedisBroker):
    """Dramatiq's Redis broker with a doorbell per queue: each send (delayed ones to the delay
    queue's bell) RPUSHes a ring to ``<namespace>:<queue>.bell``, trimmed to ``rings_kept`` and
    expiring after ``ttl_ms``, and a consumer that found its queue empty waits for a ring with
    BLPOP instead of sleeping (``_DoorbellConsumer``).

    A ring wakes one waiter, in whichever process; the others wake at their ``wait_ms`` timeout
    and fetch, as does anyone for a message that entered the queue without a ring (Dramatiq's
    maintenance re-queueing a dead worker's messages, a sender without the bell). A ring left
    over costs one empty fetch. Before a worker of this broker stops, its consumers are woken
    through a bell of this broker's own, and poll from then on, so shutdown is not held up."""

    def __init__(self, *, wait_ms: int, poll_ms: int, rings_kept: int, ttl_ms: int, **options) -> None:
        super().__init__(**options)
        self.wait_ms = wait_ms
        self.poll_ms = poll_ms
        self.rings_kept = rings_kept
        self.ttl_ms = ttl_ms
        self.stopping = False
        self.own_bell = f"{self.namespace}:__bell__.{self.broker_id}"
        self.add_middleware(_WakeOnShutdown())

    @property
    def consumer_class(self):
        return _DoorbellConsumer

    def bell(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.bell"

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        sent = super().enqueue(message, delay=delay)
        try:
            self.ring(self.bell(sent.queue_name))
        except redis.RedisError:  # the message is queued: a consumer fetches it at its timeout
            logger.warning("generation.broker.ring_failed queue=%s", sent.queue_name)
        return sent

    def ring(self, key: str, rings: int = 1) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(key, *([b"1"] * rings))
        pipe.ltrim(key, -self.rings_kept, -1)
        pipe.pexpire(key, self.ttl_ms)
        pipe.execute()


class _DoorbellConsumer(_RedisConsumer):
    """``_RedisConsumer`` whose empty fetch waits for the queue's bell (at most the broker's
    ``wait_ms``) instead of sleeping a backoff; while it holds delayed messages (the delay
    queue's, due without a ring) or has no room to fetch, it polls every ``poll_ms`` as before."""

    def __init__(self, broker, queue_name, prefetch, timeout) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self.delay_queue = q_name(queue_name) != queue_name

    def __next__(self):
        broker = self.broker
        try:
            while self.message_cache:
                data = self.message_cache.pop(0)
                if data is None:
                    continue
                message = Message.decode(data)
                self.queued_message_ids.add(message.message_id)
                return dramatiq.MessageProxy(message)
            room = self.prefetch - self.outstanding_message_count
            if room > 0:
                self.message_cache = broker.do_fetch(self.queue_name, room)
                if self.message_cache:
                    return self.__next__()
            holds_delayed = self.delay_queue and self.queued_message_ids
            if room <= 0 or holds_delayed or broker.stopping:
                time.sleep(broker.poll_ms / 1000)
            else:
                # BLPOP's timeout is in seconds (a float since Redis 6).
                wait_s = min(self.timeout, broker.wait_ms) / 1000
                # a socket_timeout in REDIS_URL shorter than the wait ends the wait, not the consumer
                with contextlib.suppress(redis.TimeoutError):
                    broker.client.blpop([broker.bell(self.queue_name), broker.own_bell], timeout=wait_s)
            return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None


class _WakeOnShutdown(Middleware):
    """Wakes the consumers of a stopping worker (they poll until they stop); a worker starting
    again on the same broker has them wait on the bells again."""

    def before_worker_boot(self, broker, worker) -> None:
        broker.stopping = False

    def before_worker_shutdown(self, broker, worker) -> None:
        broker.stopping = True
        try:
            broker.ring(broker.own_bell, rings=len(getattr(worker, "consumers", ())) or 1)
        except redis.RedisError:  # Redis down: the consumers are failing their fetches anyway
            logger.info("generation.broker.wake_failed", exc_info=True)


def configure_broker() -> dramatiq.Broker:
    """Build the broker from settings and make it the global one (idempotent)."""
    current = getattr(configure_broker, "_broker", None)
    if current is not None:
        return current
    if settings.REDIS_URL:
        broker: dramatiq.Broker = DoorbellRedisBroker(
            url=settings.REDIS_URL,
            namespace=settings.DRAMATIQ_NAMESPACE,
            wait_ms=DOORBELL_WAIT_MS,
            poll_ms=IDLE_POLL_MS,
            rings_kept=DOORBELL_RINGS_KEPT,
            ttl_ms=DOORBELL_TTL_MS,
        )
    else:
        broker = StubBroker()
    broker.add_middleware(CloseDbConnections())
    dramatiq.set_broker(broker)
    configure_broker._broker = broker  # type: ignore[attr-defined]
    return broker


def start_inprocess_workers() -> dramatiq.Worker | None:
    """Start worker threads inside this process (embedded default only)."""
    global _inprocess_worker
    if not conf().INPROCESS_WORKERS:
        return None
    with _lock:
        if _inprocess_worker is None:
            broker = configure_broker()
            _inprocess_worker = dramatiq.Worker(
                broker, worker_threads=conf().WORKER_THREADS, worker_timeout=100
            )
            _inprocess_worker.start()
            from .maintenance import resume_inprocess_tasks, start_reaper_thread

            try:
                resume_inprocess_tasks()
            except DatabaseError:  # not migrated yet: nothing to resume
                logger.info("generation.tasks.resume_skipped")
            start_reaper_thread()
            from .availability import start_availability_monitor

            start_availability_monitor()
            logger.info("generation.workers.started_inprocess threads=%s", conf().WORKER_THREADS)
    return _inprocess_worker
