"""Dramatiq actors: thin wrappers that take ids and call the pipeline.

Actor names are stable (``generation.<verb>_<noun>``, in ``broker``) because queued messages name
them; senders enqueue by that name (``broker.enqueue``), so only ``GenerationConfig.ready``
imports this module, and nothing below it reaches up for an actor.
Retries are decided by the runner, which knows the error and re-enqueues with a delay, so the
actors themselves never retry blindly (a blind retry could charge the provider twice). The one
exception is a task that could not even be claimed: nothing was done, so its message is retried.
"""

from __future__ import annotations

import dramatiq

from . import webhooks
from .broker import DELIVER_WEBHOOK, RUN_TASK
from .conf import conf
from .pipeline import runner

# Generous: provider timeouts are enforced by the providers themselves; this only stops a
# worker thread that hangs outside any provider call.
TASK_TIME_LIMIT_MS = 45 * 60 * 1000


# Deliveries of a message whose task could not be claimed; past them, the reaper re-sends it.
CLAIM_RETRIES = 8


def retry_unclaimed(retries: int, exception: BaseException) -> bool:
    """Retry a message only when the database was out of reach before its task was claimed."""
    return isinstance(exception, runner.NotClaimed) and retries < CLAIM_RETRIES


@dramatiq.actor(
    actor_name=RUN_TASK,
    queue_name=conf().QUEUE,
    retry_when=retry_unclaimed,
    min_backoff=conf().RETRY_MIN_BACKOFF_MS,
    max_backoff=conf().RETRY_MAX_BACKOFF_MS,
    time_limit=TASK_TIME_LIMIT_MS,
)
def run_task(task_id: str) -> None:
    runner.run_task(task_id)


@dramatiq.actor(
    actor_name=DELIVER_WEBHOOK,
    queue_name=conf().QUEUE,
    max_retries=0,  # deliver() schedules its own retries, with backoff and a budget
    time_limit=60_000,
)
def deliver_webhook(task_id: str, attempt: int = 1) -> None:
    webhooks.deliver(task_id, attempt)
