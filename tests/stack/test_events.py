"""Stage notifications from a real worker process reach a real WebSocket (uvicorn, channels-redis)
in the order the stages ran, through the worker's one long-lived send loop
(generation/events.py), and carry no prompt."""

from __future__ import annotations

import json

import requests
from websockets.sync.client import connect

PROMPT = "a lighthouse at dawn, notification order check"


def _events_until_done(socket, task_ids: set[str]) -> dict[str, list[dict]]:
    """Every embed_update of the given tasks, per task, until each has ended."""
    seen: dict[str, list[dict]] = {task_id: [] for task_id in task_ids}
    ended: set[str] = set()
    while ended != task_ids:
        message = json.loads(socket.recv(timeout=120))
        if message.get("type") != "embed_update" or message["payload"].get("task_id") not in task_ids:
            continue
        payload = message["payload"]
        seen[payload["task_id"]].append(payload)
        if payload["status"] in {"completed", "failed", "cancelled"}:
            ended.add(payload["task_id"])
    return seen


def test_stage_notifications_arrive_in_order_over_a_real_socket(live_stack):
    stack = live_stack
    ws_url = stack.url.replace("http://", "ws://") + "/ws/"
    with connect(ws_url, additional_headers=stack.auth_header()) as socket:
        task_ids = set()
        for index in range(3):  # several tasks: one worker process sends all their events
            response = requests.post(
                f"{stack.url}/v1/apps/images/generate",
                json={"prompt": f"{PROMPT} {index}"},
                headers=stack.auth_header(),
                timeout=30,
            )
            assert response.status_code == 202, response.text
            task_ids.add(response.json()["task_id"])
        events = _events_until_done(socket, task_ids)
        raw = json.dumps(events)
    assert PROMPT not in raw and "wrapped_key" not in raw
    for task_events in events.values():
        assert task_events[-1]["status"] == "completed"
        assert task_events[-1]["files"] and set(task_events[-1]["files"]) == {"original", "full", "preview"}
        assert [e["status"] for e in task_events].count("completed") == 1
        progress = [e["progress"] for e in task_events]
        assert progress == sorted(progress), progress  # stages in the order they ran
        stages = [e["stage"] for e in task_events]
        assert stages.index("encoding") < stages.index("storing") < stages.index("done"), stages
