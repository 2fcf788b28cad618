"""The Dramatiq broker: Redis in the full stack, an in-process stub broker in the embedded default.

With no ``REDIS_URL`` the web process runs the workers itself (``start_inprocess_workers``), so
``make run`` needs no other service. Everything above this module is the same in both modes.
"""

from __future__ import annotations

import logging
import threading

import dramatiq
from django.conf import settings
from django.db import DatabaseError, transaction
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

from .conf import conf

logger = logging.getLogger(__name__)
# Dramatiq's Redis consumer polls an empty queue with a backoff growing to the worker timeout
# (1 s), so a job sent to an idle worker waited ~0.5 s on average before it started
# (bench/download.py, end-to-end row). Capped here: an idle consumer polls Redis at most every
# 25 ms (one small Lua call each; bench/download.py prints what idle workers cost).
IDLE_POLL_MS = 25
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


def configure_broker() -> dramatiq.Broker:
    """Build the broker from settings and make it the global one (idempotent)."""
    current = getattr(configure_broker, "_broker", None)
    if current is not None:
        return current
    if settings.REDIS_URL:
        from dramatiq.brokers.redis import RedisBroker

        class PromptRedisBroker(RedisBroker):
            """Redis broker whose idle consumers poll every IDLE_POLL_MS at most."""

            def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
                return super().consume(queue_name, prefetch, min(timeout, IDLE_POLL_MS))

        broker: dramatiq.Broker = PromptRedisBroker(
            url=settings.REDIS_URL, namespace=settings.DRAMATIQ_NAMESPACE
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
