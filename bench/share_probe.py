"""Can a visitor tell unknown, expired and revoked share ids apart by timing? Medians and p90s
of ``GET /s/<id>`` for each kind, interleaved, against the full stack (tests/live_stack.py).

All three take the same path by construction (one indexed query that finds nothing, the same
410 page); this measures it. The machine is shared: compare the three figures of one run.
Run: `.venv/bin/python bench/share_probe.py` (env: ROUNDS=300).
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg
import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import share_crypto as sc
from tests.live_stack import Stack

ROUNDS = int(os.environ.get("ROUNDS", "300"))


def main() -> None:
    with Stack(web_workers=1, worker_processes=1, env={"SHARE_RATE_PER_MINUTE": "1000000"}) as stack:
        auth = stack.auth_header()
        buffer = io.BytesIO()
        Image.new("RGB", (320, 240), (9, 9, 9)).save(buffer, "PNG")
        embed = requests.post(
            f"{stack.url}/v1/embeds/upload", headers=auth, files={"file": buffer.getvalue()}
        )
        embed_id = embed.json()["embed_id"]

        def share(expires_in: str) -> str:
            envelope = sc.seal(os.urandom(32), {"mime": "image/webp"}, b"RIFF....WEBP")
            response = requests.post(
                f"{stack.url}/v1/shares",
                headers=auth,
                data={"embed_id": embed_id, "expires_in": expires_in},
                files={"file": envelope},
            )
            return response.json()["share_id"]

        expired, revoked = share("1h"), share("never")
        requests.delete(f"{stack.url}/v1/shares/{revoked}", headers=auth)
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{stack.database}", autocommit=True) as db:
            db.execute(
                "UPDATE sharing_share SET expires_at = now() - interval '1 minute' WHERE id = %s", (expired,)
            )
        ids = {"unknown": sc.b64url(os.urandom(16)), "expired": expired, "revoked": revoked}
        times: dict[str, list[float]] = {name: [] for name in ids}
        session = requests.Session()
        for _ in range(ROUNDS):
            for name, share_id in ids.items():
                start = time.perf_counter()
                response = session.get(f"{stack.url}/s/{share_id}")
                times[name].append((time.perf_counter() - start) * 1000)
                assert response.status_code == 410, (name, response.status_code)
        for name, values in times.items():
            values.sort()
            p90 = values[int(len(values) * 0.9)]
            print(f"{name:8s} median {statistics.median(values):6.2f} ms   p90 {p90:6.2f} ms")


if __name__ == "__main__":
    main()
