"""The order of a task's events to its owner's tabs: progress leaves without the worker waiting
for it (generation.lifecycle._ProgressSends), and never after the ending that follows it."""

from __future__ import annotations

import pytest

from embeds.models import Embed
from generation import lifecycle
from generation.providers.base import ErrorCode
from tests.generation.test_lifecycle import events_during, queued  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)  # events leave on commit


def test_progress_events_arrive_in_order_and_before_the_ending(queued):  # noqa: F811
    def run() -> None:
        task = lifecycle.claim(str(queued.pk))
        for stage, progress in (("provider", 10), ("encoding", 75), ("storing", 90)):
            task.stage, task.progress = stage, progress
            lifecycle.heartbeat(task, "stage", "progress", embed_status=Embed.Status.PROCESSING)
        lifecycle.fail(task, ErrorCode.INTERNAL, "stopped here")

    events = events_during(queued.owner_id, run, count=5)

    assert [(e["status"], e["stage"]) for e in events] == [
        ("processing", "starting"),
        ("processing", "provider"),
        ("processing", "encoding"),
        ("processing", "storing"),
        ("failed", "failed"),
    ]


def test_an_ending_sent_after_progress_finds_every_progress_event_sent(queued):  # noqa: F811
    """When the ending's transition returns, the progress before it has left (flushed)."""
    sent_before_ending: list[bool] = []

    def run() -> None:
        task = lifecycle.claim(str(queued.pk))
        task.stage = "encoding"
        lifecycle.heartbeat(task, "stage", embed_status=Embed.Status.PROCESSING)
        lifecycle.fail(task, ErrorCode.INTERNAL, "stopped here")
        sends = lifecycle._progress_sends._running(start=False)
        sent_before_ending.append(sends is not None and sends.empty())

    events = events_during(queued.owner_id, run, count=3)

    assert sent_before_ending == [True]
    assert [e["stage"] for e in events] == ["starting", "encoding", "failed"]
