"""The orphan sweeper: objects no embed accounts for go; everything an embed owns stays."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from PIL import Image

from embeds import storage
from embeds.maintenance import sweep_orphaned_objects
from embeds.models import Embed

pytestmark = pytest.mark.django_db(transaction=True)


def test_only_objects_without_an_embed_are_swept(alice, alice_api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (5, 6, 7)).save(buffer, "PNG")
    upload = alice_api.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("a.png", buffer.getvalue())}, format="multipart"
    )
    assert upload.status_code == 201
    embed = Embed.objects.get()
    kept = set(storage.list_objects())
    assert len(kept) == 3
    # what a web process killed between storing an upload and committing its row leaves behind
    ghost = uuid.uuid4()
    orphans = {storage.object_name(alice.pk, ghost, variant) for variant in ("original", "full", "preview")}
    for name in orphans:
        storage.put_object(name, b"OMI1" + bytes(40))
    storage.put_object(storage.object_name(alice.pk, embed.id, "mask"), b"OMI1" + bytes(40))  # its own
    kept.add(storage.object_name(alice.pk, embed.id, "mask"))

    assert sweep_orphaned_objects() == []  # younger than the grace period: maybe still in flight
    assert set(sweep_orphaned_objects(older_than=timedelta(0), dry_run=True)) == orphans
    assert set(storage.list_objects()) == kept | orphans
    out = io.StringIO()
    call_command("sweep_orphans", "--older-than-minutes", "0", stdout=out)
    assert out.getvalue().strip() == "Deleted 3 orphaned object(s)."
    assert set(storage.list_objects()) == kept
    assert alice_api.get(f"/v1/embeds/{embed.id}/file?format=original").status_code == 200
