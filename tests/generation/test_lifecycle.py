"""generation/lifecycle.py: the only writer of a task's state, each transition atomic and told
to the owner's tabs on commit."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

import dramatiq
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone

from core.realtime import user_group
from embeds.models import Embed
from embeds.signals import embed_deleting
from generation import lifecycle
from generation.actions import GenerationParams, check_create_generation
from generation.maintenance import reap_stale_tasks
from generation.models import Task
from generation.registry import default_model
from tests.conftest import wait_for_task
from tests.generation.status_writes import state_writes_in_source, state_writes_in_tree

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounts", "chats", "core", "embeds", "generation", "openmates_images", "sharing")

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_module_but_lifecycle_writes_task_state():
    assert state_writes_in_tree(ROOT, PACKAGES, allowed={"generation/lifecycle.py"}) == []


def test_the_scan_sees_each_kind_of_write():
    """The writes the scan forbids, as they stood in the code before lifecycle.py existed."""
    source = """
def f(task, locked, embed, qs):
    task.status = Task.Status.QUEUED
    locked.status = "failed"
    task.save(update_fields=["status", "stage"])
    embed.tasks.filter(status__in=("queued", "processing")).update(cancel_requested=True)
    Task.objects.filter(pk=1, status="processing").update(status=Task.Status.QUEUED)
    Task.objects.filter(pk=1).update(**{"status": "queued"})
    setattr(task, "status", "queued")
    task.cancel_requested = True

class Task:
    def save_end(self, status):
        self.status = status
"""
    assert [line for line, _ in sorted(state_writes_in_source(source))] == [3, 4, 5, 6, 7, 8, 9, 10, 14]
    reads = """
def g(task, embed):
    embed.status = Embed.Status.FINISHED
    task.embed.status = Embed.Status.ERROR
    Task.objects.filter(status=Task.Status.QUEUED).count()
    Embed.objects.filter(pk=1).update(status=Embed.Status.ERROR)
    task.save(update_fields=["heartbeat_at"])
"""
    assert state_writes_in_source(reads) == []


@pytest.fixture
def queued(alice, broker):
    """A queued generation task made through the action, its message dropped (no worker runs)."""
    task, _ = check_create_generation(
        alice, GenerationParams(prompt="a lighthouse", aspect_ratio="1:1", model=default_model())
    )
    broker.flush_all()
    return Task.objects.select_related("embed").get(pk=task.pk)


def events_during(user_id: int, action, *, count: int = 1, wait: float = 5) -> list[dict]:
    """The payloads of the first ``count`` ``embed_update`` events the user's tabs get while
    ``action`` runs (through the real channel layer); fewer if none come within ``wait`` s."""

    async def listen() -> list[dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(user_group(user_id), channel)
        try:
            await sync_to_async(action)()
            payloads = []
            while len(payloads) < count:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), wait)
                except TimeoutError:
                    break
                if message.get("event") == "embed_update":
                    payloads.append(message["payload"])
            return payloads
        finally:
            await layer.group_discard(user_group(user_id), channel)

    return async_to_sync(listen)()


def test_claim_notifies_and_two_workers_claiming_at_once_get_it_once(queued):
    barrier = threading.Barrier(2)
    claimed: list[Task | None] = []

    def claim() -> None:
        barrier.wait()
        try:
            claimed.append(lifecycle.claim(str(queued.pk)))
        finally:
            connection.close()

    def race() -> None:
        threads = [threading.Thread(target=claim) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    (event,) = events_during(queued.owner_id, race)
    assert sum(task is not None for task in claimed) == 1
    task = Task.objects.get(pk=queued.pk)
    assert (task.status, task.attempts, task.stage) == (Task.Status.PROCESSING, 1, "starting")
    assert event["status"] == "processing" and event["task_id"] == str(queued.pk)


def test_an_ending_that_deadlocks_with_a_deletion_is_tried_again(queued):
    """The ending locks the task, then its embed; another transaction (as a deletion does)
    holds the embed and then wants the task. PostgreSQL aborts one of them: when it is the
    ending, the ending runs again and finds the task the other deleted, never a DB error."""
    import time

    from django.db import OperationalError, transaction

    task = lifecycle.claim(str(queued.pk))
    embed_locked = threading.Event()
    outcome: list[str] = []

    def deleter() -> None:
        try:
            with transaction.atomic():
                Embed.objects.select_for_update().get(pk=task.embed_id)
                embed_locked.set()
                time.sleep(0.3)  # the ending now holds the task and waits for the embed
                Task.objects.select_for_update().get(pk=task.pk)
                Task.objects.filter(pk=task.pk).delete()
                Embed.objects.filter(pk=task.embed_id).delete()
            outcome.append("deleted")
        except OperationalError:
            outcome.append("aborted")
        finally:
            connection.close()

    thread = threading.Thread(target=deleter)
    thread.start()
    embed_locked.wait(5)
    try:
        lifecycle.end_cancelled(task)
        ended = "cancelled"
    except Task.DoesNotExist:
        ended = "gone"
    thread.join()
    # Either PostgreSQL aborted the other transaction and the ending went through, or it aborted
    # the ending, which ran again after the deletion committed and found the row gone.
    assert (outcome, ended) in ((["aborted"], "cancelled"), (["deleted"], "gone")), (outcome, ended)
    if ended == "cancelled":
        assert Task.objects.get(pk=task.pk).status == Task.Status.CANCELLED


def test_cancel_of_a_queued_task_ends_it_and_of_a_finished_one_changes_nothing(queued):
    (event,) = events_during(queued.owner_id, lambda: lifecycle.cancel(queued))
    assert event["status"] == "cancelled"
    task = Task.objects.select_related("embed").get(pk=queued.pk)
    assert task.status == Task.Status.CANCELLED and task.embed.status == Embed.Status.ERROR
    ended_at = task.finished_at
    assert events_during(queued.owner_id, lambda: lifecycle.cancel(task), wait=1) == []
    again = Task.objects.get(pk=queued.pk)
    assert (again.status, again.finished_at, again.cancel_requested) == (
        Task.Status.CANCELLED,
        ended_at,
        False,
    )


def test_cancel_of_a_completed_task_is_a_no_op(queued):
    task = lifecycle.claim(str(queued.pk))
    assert lifecycle.complete(task, task.embed, files=None)
    done = Task.objects.get(pk=queued.pk)
    assert events_during(queued.owner_id, lambda: lifecycle.cancel(done), wait=1) == []
    after = Task.objects.select_related("embed").get(pk=queued.pk)
    assert (after.status, after.progress, after.cancel_requested) == (Task.Status.COMPLETED, 100, False)
    assert after.embed.status == Embed.Status.FINISHED and after.finished_at == done.finished_at


def test_a_running_task_is_flagged_and_its_worker_cannot_complete_it(queued):
    task = lifecycle.claim(str(queued.pk))
    lifecycle.cancel(task)
    assert Task.objects.get(pk=task.pk).cancel_requested
    assert lifecycle.is_cancel_requested(task)
    assert lifecycle.complete(task, task.embed, files=None) is False
    assert Task.objects.get(pk=task.pk).status == Task.Status.PROCESSING  # its worker ends it
    lifecycle.end_cancelled(task)
    assert Task.objects.get(pk=task.pk).status == Task.Status.CANCELLED


def test_a_claim_finds_a_cancel_requested_task_and_ends_it(queued):
    Task.objects.filter(pk=queued.pk).update(cancel_requested=True)
    assert lifecycle.claim(str(queued.pk)) is None
    assert Task.objects.get(pk=queued.pk).status == Task.Status.CANCELLED


def test_fail_or_retry_requeues_while_attempts_last_then_fails(queued, settings):
    settings.GENERATION = {**settings.GENERATION, "MAX_RETRIES": 1}
    task = lifecycle.claim(str(queued.pk))
    (event,) = events_during(
        task.owner_id, lambda: lifecycle.fail_or_retry(task, "provider_timeout", "slow", retryable=True)
    )
    assert (event["status"], event["stage"]) == ("queued", "retrying")
    task = lifecycle.claim(str(queued.pk))
    assert task.attempts == 2
    (event,) = events_during(
        task.owner_id, lambda: lifecycle.fail_or_retry(task, "provider_timeout", "slow", retryable=True)
    )
    assert event["status"] == "failed" and event["error"]["code"] == "provider_timeout"
    ended = Task.objects.select_related("embed").get(pk=queued.pk)
    assert ended.embed.status == Embed.Status.ERROR and ended.cleanup_pending is False


def test_requeue_from_the_reaper_notifies_and_queues_the_task(queued, broker):
    task = lifecycle.claim(str(queued.pk))
    Task.objects.filter(pk=task.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    counts: dict = {}
    (event,) = events_during(task.owner_id, lambda: counts.update(reap_stale_tasks(stale_after=60)))
    assert counts["requeued"] == 1
    assert (event["status"], event["stage"], event["task_id"]) == ("queued", "retrying", str(task.pk))
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)  # the requeue's message
    worker.start()
    try:
        body = _poll(task)
    finally:
        worker.stop()
    assert (body.status, body.attempts) == (Task.Status.COMPLETED, 2)


def _poll(task: Task) -> Task:
    class Client:  # wait_for_task's polling, over the ORM instead of the API
        def get(self, _path):
            return self

        def json(self):
            return {"status": Task.objects.get(pk=task.pk).status}

    wait_for_task(Client(), str(task.pk))
    return Task.objects.get(pk=task.pk)


def test_the_reaper_fails_a_stale_task_out_of_attempts(queued, settings):
    settings.GENERATION = {**settings.GENERATION, "MAX_RETRIES": 0}
    task = lifecycle.claim(str(queued.pk))
    Task.objects.filter(pk=task.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    (event,) = events_during(task.owner_id, lambda: reap_stale_tasks(stale_after=60))
    assert event["status"] == "failed" and event["error"]["code"] == "internal"


def test_staff_retry_starts_a_failed_task_again_and_tells_its_tabs(queued, admin_client):
    task = lifecycle.claim(str(queued.pk))
    lifecycle.fail(task, "internal", "broken")

    def retry() -> None:
        response = admin_client.post(
            "/admin/generation/task/", {"action": "retry_failed", "_selected_action": [str(task.pk)]}
        )
        assert response.status_code == 302

    (event,) = events_during(task.owner_id, retry)
    assert (event["status"], event["embed_status"]) == ("queued", "processing")
    again = Task.objects.select_related("embed").get(pk=task.pk)
    assert (again.status, again.attempts, again.error_code, again.finished_at) == (
        Task.Status.QUEUED,
        0,
        "",
        None,
    )
    assert again.embed.status == Embed.Status.PROCESSING
    # The same image is made again in its own place in its lineage: nothing replaced or deleted.
    assert (again.embed.version_kind, again.embed.root_id) == ("generated", again.embed_id)
    assert Embed.objects.filter(owner_id=task.owner_id).count() == 1
    assert lifecycle.retry(task.pk) is False  # only a failed task is retried


def test_deleting_an_embed_flags_its_unfinished_tasks_through_the_signal(queued):
    embed_deleting.send(sender=Embed, embed=queued.embed)
    assert Task.objects.get(pk=queued.pk).cancel_requested
    assert lifecycle.cancel_for_embed(queued.embed_id) == 1
    lifecycle.end_cancelled(queued)
    assert lifecycle.cancel_for_embed(queued.embed_id) == 0  # an ended task is left as it is


def test_a_heartbeat_keeps_the_reaper_off_and_tells_the_tabs_its_progress(queued):
    task = lifecycle.claim(str(queued.pk))
    Task.objects.filter(pk=task.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    task.stage, task.progress = "provider", 40

    def beat() -> None:
        lifecycle.heartbeat(task, "stage", "progress", embed_status=Embed.Status.PROCESSING)

    (event,) = events_during(task.owner_id, beat)
    assert (event["stage"], event["progress"], event["status"]) == ("provider", 40, "processing")
    assert reap_stale_tasks(stale_after=60)["requeued"] == 0
    assert Task.objects.get(pk=task.pk).status == Task.Status.PROCESSING
