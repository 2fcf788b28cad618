"""The factories build what the product builds (tests/factories.py): through actions, so a
factory-made user logs in, a factory-made image is sealed and stored like an upload, and a
factory-made task is queued like a REST request and finished by a real worker."""

from __future__ import annotations

import os

import pytest

from accounts.models import ApiKey
from embeds import sealing
from embeds.models import Embed
from generation.models import Task
from tests.conftest import wait_for_task
from tests.factories import PASSWORD, ApiKeyFactory, GenerationTaskFactory, UploadedImageFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_factory_user_logs_in_and_its_api_key_is_stored_hashed(client):
    user = UserFactory()
    assert client.login(username=user.username, password=PASSWORD)
    created = ApiKeyFactory(owner=user)
    stored = ApiKey.objects.get(user=user)
    assert created.raw_key.split("_")[1] == stored.prefix  # the short prefix identifies it
    assert len(stored.key_hash) == 64 and created.raw_key not in stored.key_hash


def test_a_factory_image_is_a_finished_sealed_upload(s3_server):
    embed = UploadedImageFactory()
    assert embed.status == Embed.Status.FINISHED and embed.type == Embed.Type.IMAGE
    opened = sealing.open_embed(embed)
    content = opened.content()
    assert content.source == "upload" and set(content.files) == {"original", "full", "preview"}
    assert opened.load_file("original").startswith(b"\x89PNG")
    bucket = os.environ["S3_BUCKET"]
    listed = s3_server.list_objects_v2(Bucket=bucket)["Contents"]
    stored = [s3_server.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed]
    assert len(stored) == 3 and not any(blob.startswith(b"\x89PNG") for blob in stored)  # ciphertext only


@pytest.mark.django_db(transaction=True)
def test_a_factory_task_is_queued_like_a_request_and_a_worker_finishes_it(worker, api_client_for):
    task = GenerationTaskFactory(prompt="a red kite over hills")
    assert task.status == Task.Status.QUEUED and task.embed.status == Embed.Status.PROCESSING
    body = wait_for_task(api_client_for(task.owner), str(task.id))
    assert body["status"] == "completed", body


@pytest.mark.django_db(transaction=True)
def test_on_the_stub_broker_join_returns_once_the_task_has_ended(stub_tasks):
    """The in-process tier: no Redis, no polling; join() returns when the work is done."""
    tasks = [GenerationTaskFactory(prompt=f"a paper boat, take {n}") for n in range(3)]
    stub_tasks.join()
    for task in tasks:
        task.refresh_from_db()
        assert task.status == Task.Status.COMPLETED
        assert sealing.open_embed(task.embed).content().files is not None
