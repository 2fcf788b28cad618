"""The task shape's renderers, timed: the poll (GET /v1/tasks/{id}), the socket's embed_update
events and the webhooks all render a task, so the renderer is on the hottest path we have.

Compares the hand-written presenter dict this replaced, the renderer compiled from
TaskSerializer's declared fields (core.schema.compile_shape, what task_payload uses now), and
DRF's own TaskSerializer(row).data, on a completed task with three files. All three must give
the same JSON (checked first). Run: ``.venv/bin/python -m bench.shapes``.
"""

from __future__ import annotations

import os
import timeit
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmates_images.settings")
django.setup()

from django.utils import timezone  # noqa: E402

from core.schema import TaskSerializer, compile_shape  # noqa: E402

NOW = timezone.now()
ROW = {
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
    "created_at": NOW,
    "started_at": NOW,
    "finished_at": NOW,
    "attempts": 1,
    "cost_usd": "0.0000",
    "error": None,
    "files": {
        v: {"width": 1024, "height": 1024, "size_bytes": 12345, "format": "png"}
        for v in ("original", "full", "preview")
    },
}


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def presenter_dict() -> dict:
    """The dict task_payload built by hand before (one copy of the shape beside the schema's)."""
    files = {
        v: {k: m[k] for k in ("width", "height", "size_bytes", "format") if k in m}
        for v, m in ROW["files"].items()
    }
    return {
        "task_id": str(ROW["task_id"]),
        "embed_id": str(ROW["embed_id"]),
        "kind": ROW["kind"],
        "status": ROW["status"],
        "embed_status": ROW["embed_status"],
        "progress": ROW["progress"],
        "stage": ROW["stage"],
        "queue_position": ROW["queue_position"],
        "server_queue_position": ROW["server_queue_position"],
        "model": ROW["model"],
        "eta_seconds": ROW["eta_seconds"],
        "estimated_finish_at": _iso(ROW["estimated_finish_at"]),
        "created_at": _iso(ROW["created_at"]),
        "started_at": _iso(ROW["started_at"]),
        "finished_at": _iso(ROW["finished_at"]),
        "attempts": ROW["attempts"],
        "cost_usd": ROW["cost_usd"],
        "error": ROW["error"],
        "files": files,
    }


def main() -> None:
    compiled = compile_shape(TaskSerializer)
    assert compiled(ROW) == presenter_dict() == dict(TaskSerializer(ROW).data)
    number = 20000
    for name, render in (
        ("presenter dict (before)", presenter_dict),
        ("compiled from TaskSerializer (now)", lambda: compiled(ROW)),
        ("DRF TaskSerializer(row).data", lambda: TaskSerializer(ROW).data),
    ):
        seconds = min(timeit.repeat(render, number=number, repeat=5)) / number
        print(f"{name:40s} {seconds * 1e6:8.1f} µs per task")


if __name__ == "__main__":
    main()
