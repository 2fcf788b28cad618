"""Dramatiq actors: thin wrappers that take ids and call the pipeline.

Actor names are stable (``generation.<verb>_<noun>``) because queued messages name them.
Retries are decided by the runner, which knows the error and re-enqueues with a delay, so the
actors themselves never retry blindly (a blind retry could charge the provider twice).
"""

from __future__ import annotations

import dramatiq

from .conf import conf

# Generous: provider timeouts are enforced by the providers themselves; this only stops a
# worker thread that hangs outside any provider call.
TASK_TIME_LIMIT_MS = 45 * 60 * 1000


@dramatiq.actor(
    actor_name="generation.run_task",
    queue_name=conf().QUEUE,
    max_retries=0,
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
