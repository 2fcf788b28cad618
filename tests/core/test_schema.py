"""core.schema.compile_shape: the fast renderer of a shape writes exactly what the shape's
serializer writes (DRF's to_representation), so the serializer stays the one definition."""

from __future__ import annotations

import uuid

from django.utils import timezone

from core.schema import TaskSerializer, compile_shape


def _row(**changes) -> dict:
    now = timezone.now()
    row = {
        "task_id": uuid.uuid4(),
        "embed_id": uuid.uuid4(),
        "kind": "generate",
        "status": "completed",
        "embed_status": "finished",
        "progress": 100,
        "stage": "done",
        "queue_position": None,
        "server_queue_position": None,
        "model": "local/procedural",
        "eta_seconds": None,
        "estimated_finish_at": None,
        "created_at": now,
        "started_at": now,
        "finished_at": now,
        "attempts": 1,
        "cost_usd": "0.0000",
        "error": None,
        "files": {"original": {"width": 4, "height": 3, "size_bytes": 10, "format": "png"}},
    }
    return {**row, **changes}


def test_the_compiled_task_renderer_writes_what_the_serializer_writes():
    render = compile_shape(TaskSerializer)
    for row in (
        _row(),
        _row(status="queued", files=None, started_at=None, finished_at=None, server_queue_position=3),
        _row(status="failed", error={"code": "internal", "message": "x"}, files=None),
    ):
        rendered = render(row)
        assert rendered == dict(TaskSerializer(row).data)
        assert list(rendered) == list(TaskSerializer().fields)  # the declared order
        assert rendered["created_at"].endswith("Z") and rendered["task_id"] == str(row["task_id"])


def test_a_nested_shape_keeps_only_its_declared_fields():
    row = _row(
        files={"full": {"width": 4, "height": 3, "size_bytes": 10, "format": "webp", "mime": "image/webp"}}
    )
    assert compile_shape(TaskSerializer)(row)["files"] == {
        "full": {"width": 4, "height": 3, "size_bytes": 10, "format": "webp"}
    }
