"""The embedded default, as `make run` starts it: a real server process with no services set.

SQLite, the local encrypted object store, the local keyring and in-process workers, driven over
plain HTTP exactly like the README's curl examples.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.embedded import embedded_server as start_embedded


@pytest.fixture
def embedded_server(tmp_path):
    with start_embedded(tmp_path) as server:
        yield server.base, server.key, server.data_dir


def test_readme_flow_in_the_embedded_default(embedded_server):
    base, key, data_dir = embedded_server
    auth = {"Authorization": f"Bearer {key}"}
    response = requests.post(
        f"{base}/v1/apps/images/generate",
        json={"prompt": "A futuristic cityscape at sunset", "aspect_ratio": "16:9"},
        headers=auth,
        timeout=10,
    )
    assert response.status_code == 202, response.text
    task_id, embed_id = response.json()["task_id"], response.json()["embed_id"]
    deadline = time.monotonic() + 60
    while True:
        task = requests.get(f"{base}/v1/tasks/{task_id}", headers=auth, timeout=10).json()
        if task["status"] in {"completed", "failed", "cancelled"}:
            break
        assert time.monotonic() < deadline, task
        time.sleep(0.2)
    assert task["status"] == "completed", task
    preview = requests.get(f"{base}/v1/embeds/{embed_id}/file?format=preview", headers=auth, timeout=10)
    assert preview.status_code == 200
    assert preview.headers["Content-Type"] == "image/webp"
    assert preview.content[:4] == b"RIFF"
    content = requests.get(f"{base}/v1/embeds/{embed_id}/content", headers=auth, timeout=10).json()
    assert content["prompt"] == "A futuristic cityscape at sunset"
    assert content["files"]["original"]["format"] == "png"
    ready = requests.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text

    objects = [p for p in (data_dir / "objects").rglob("*") if p.is_file()]
    assert len(objects) == 3
    for path in objects:
        data = path.read_bytes()
        assert not data.startswith((b"\x89PNG", b"RIFF"))
        assert b"cityscape" not in data
    for database_file in data_dir.glob("db.sqlite3*"):  # the database and its WAL
        assert b"cityscape" not in database_file.read_bytes()
    assert not requests.get(f"{base}/v1/tasks/{task_id}", timeout=10).ok  # no key, no access
