"""``manage.py create_api_key`` and the DATA_DIR trap: the key must land where the server reads."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from accounts.management.commands.create_api_key import running_servers

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "DATABASE_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return {**env, **extra}


def test_a_data_dir_without_tables_is_refused_in_a_sentence_and_no_key(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "alice"],
        cwd=ROOT,
        env=_env(DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert done.stdout == ""  # `KEY=$(… | tail -n1)` gets nothing rather than a wrong key
    assert "Traceback" not in done.stderr and "no such table" not in done.stderr
    assert "There are no tables in the SQLite database" in done.stderr
    assert str(tmp_path) in done.stderr and "same DATA_DIR" in done.stderr


def test_the_running_server_and_its_data_dir_are_found(tmp_path):
    """A process of this project's server (its command names the ASGI app, its working directory
    is the project) is found with its DATA_DIR; whether it has a DATABASE_URL is all that is read
    of that."""
    project = tmp_path / "project"
    project.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "openmates_images.asgi:application"],
        cwd=project,
        env=_env(DATA_DIR="/srv/omi-data", DATABASE_URL="postgres://u:secret@db/omi"),
    )
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=project)
    try:
        for _ in range(50):
            found = running_servers(project.resolve())
            if found:
                break
            time.sleep(0.1)
        assert found == [(server.pid, {"DATA_DIR": "/srv/omi-data", "DATABASE_URL": "set"})]
    finally:
        server.kill()
        other.kill()
        server.wait()
        other.wait()
