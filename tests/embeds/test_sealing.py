"""Where ``sealing.new_embed`` places a new image in its lineage (parent, root, kind), for each
way an image is made; the lineage columns of older rows come from the migration's backfill."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from embeds.actions import do_crop_embed
from embeds.models import Embed
from generation.actions import request_again
from tests.conftest import wait_for_task
from tests.factories import UploadedImageFactory

pytestmark = pytest.mark.django_db


def test_an_upload_starts_a_lineage_and_a_crop_and_a_drawing_join_it(alice):
    upload = UploadedImageFactory(owner=alice)
    assert (upload.version_kind, upload.parent_id, upload.root_id) == ("uploaded", None, upload.id)
    crop = do_crop_embed(alice, upload, (0, 0, 400, 300))
    assert (crop.version_kind, crop.parent_id, crop.root_id) == ("cropped", upload.id, upload.id)
    drawing = UploadedImageFactory(owner=alice, derived_from=crop)
    assert (drawing.version_kind, drawing.parent_id, drawing.root_id) == ("drawn", crop.id, upload.id)
    assert drawing.derived_from_id == crop.id


def test_the_vault_copy_of_a_private_image_is_derived_from_it_but_starts_its_own_lineage(alice):
    private = UploadedImageFactory(owner=alice)
    Embed.objects.filter(pk=private.pk).update(encryption_mode=Embed.EncryptionMode.CLIENT)
    private.refresh_from_db()
    copy = UploadedImageFactory(owner=alice, derived_from=private)
    assert copy.derived_from_id == private.id
    assert (copy.version_kind, copy.parent_id, copy.root_id) == ("uploaded", None, copy.id)


def test_generated_edited_and_regenerated_images_take_their_place(alice_api, alice, worker):
    made = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "a kite", "aspect_ratio": "1:1"}, format="json"
    )
    generated = Embed.objects.get(pk=wait_for_task(alice_api, made.json()["task_id"])["embed_id"])
    assert (generated.version_kind, generated.parent_id, generated.root_id) == (
        "generated",
        None,
        generated.id,
    )
    edit = alice_api.post(
        "/v1/apps/images/edit", {"embed_id": str(generated.id), "prompt": "add a moon"}, format="json"
    )
    assert edit.status_code == 202, edit.content
    edited = Embed.objects.get(pk=wait_for_task(alice_api, edit.json()["task_id"])["embed_id"])
    assert (edited.version_kind, edited.parent_id, edited.root_id) == ("edited", generated.id, generated.id)
    params = request_again(alice, edited)
    assert params.version_kind == "regenerated" and params.again_of == edited
    again = alice_api.post(
        f"/v1/embeds/{edited.id}/report", {"reason": "other", "regenerate": True}, format="json"
    )
    regenerated = Embed.objects.get(pk=wait_for_task(alice_api, again.json()["task_id"])["embed_id"])
    assert (regenerated.version_kind, regenerated.parent_id, regenerated.root_id) == (
        "regenerated",
        edited.id,
        generated.id,
    )
    assert regenerated.derived_from_id == generated.id  # the edit is run again on the same source


@pytest.mark.django_db(transaction=True)
def test_the_backfill_files_existing_rows_from_what_the_rows_say(alice):
    upload = UploadedImageFactory(owner=alice)
    crop = do_crop_embed(alice, upload, (0, 0, 400, 300))
    Embed.objects.update(version_kind="", parent=None, root=None)
    executor = MigrationExecutor(connection)
    executor.migrate([("embeds", "0004_embed_keys")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([("embeds", "0005_lineage")])
    rows = {row.pk: row for row in Embed.objects.all()}
    assert (rows[upload.pk].version_kind, rows[upload.pk].root_id) == ("uploaded", upload.pk)
    assert (rows[crop.pk].version_kind, rows[crop.pk].parent_id, rows[crop.pk].root_id) == (
        "drawn",  # a crop and a drawing differ only inside the ciphertext
        upload.pk,
        upload.pk,
    )
