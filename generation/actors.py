"""Dramatiq actors: thin wrappers that take ids and call the pipeline.

Actor names are stable (``generation.<verb>_<noun>``) because queued messages name them.
Retries are decided by the runner, which knows the error and re-enqueues with a delay, so the
actors themselves never retry blindly (a blind retry could charge the provider twice). The one
exception is a task that could not even be claimed: nothing was done, so its message is retried.
"""

from __future__ import annotations

import dramatiq

from .conf import conf

# Generous: provider timeouts are enforced by the providers themselves; this only stops a
# worker thread that hangs outside any provider call.
TASK_TIME_LIMIT_MS = 45 * 60 * 1000


# Deliveries of a message whose task could not be claimed; past them, the reaper re-sends it.
CLAIM_RETRIES = 8


def retry_unclaimed(retries: int, exception: BaseException) -> bool:
    """Retry a message only when the database was out of reach before its task was claimed."""
    from .pipeline.runner import NotClaimed

    return isinstance(exception, NotClaimed) and retries < CLAIM_RETRIES


@dramatiq.actor(
    actor_name="generation.run_task",
    queue_name=conf().QUEUE,
    retry_when=retry_unclaimed,
    min_backoff=conf().RETRY_MIN_BACKOFF_MS,
    max_backoff=conf().RETRY_MAX_BACKOFF_MS,
    time_limit=TASK_TIME_LIMIT_MS,
)
def run_task(task_id: str) -> None:
    from .pipeline.runner import run_task as run

    run(task_id)


@dramatiq.actor(
    actor_name="generation.deliver_webhook",
    queue_name=conf().QUEUE,
    max_retries=0,  # deliver() schedules its own retries, with backoff and a budget
    time_limit=60_000,
)
def deliver_webhook(task_id: str, attempt: int = 1) -> None:
    from .webhooks import deliver

    deliver(task_id, attempt)
