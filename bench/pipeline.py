"""Time the post-provider pipeline against libwebp's own encoder, on this machine.

For a 1024×1024 and a 1920×1080 provider PNG, over RUNS runs each, it measures:

* pipeline: renditions (original + full WEBP q90 + preview, XMP, C2PA signatures) + AES-GCM
  encryption + storage of all three (the embedded default's local object store),
* the same without C2PA signing (to show what signing costs),
* `cwebp -q 90` of the same PNG (Debian's `webp`): one encode, the floor,

and prints medians and the ratio pipeline / cwebp. Run: `.venv/bin/python bench/pipeline.py`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("RUNS", "20"))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="omi-bench-")
for name in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "VAULT_ADDR"):
    os.environ.pop(name, None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmates_images.settings")

import django  # noqa: E402

django.setup()

from embeds import crypto, imaging, storage  # noqa: E402
from generation.providers.base import GenerationRequest  # noqa: E402
from generation.providers.offline import OfflineProvider  # noqa: E402


def provider_png(width: int, height: int) -> bytes:
    """A photo-like provider image of the given size (the offline generator's, resized)."""
    import io

    from PIL import Image

    aspect = "1:1" if width == height else "16:9"
    result = OfflineProvider().generate(
        GenerationRequest(
            prompt="bench city at dusk", aspect_ratio=aspect, provider_model="procedural-1", seed=1
        )
    )
    image = Image.open(io.BytesIO(result.data)).convert("RGB").resize((width, height))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def post_provider(png: bytes, *, sign: bool) -> None:
    label = imaging.AiLabel(model_name="bench-model", model_version="1", prompt="bench city at dusk")
    renditions = (
        imaging.render_generated(png, label)
        if sign
        else imaging.render_generated(png, label, sign_c2pa=False)
    )
    key = crypto.new_data_key()
    for variant, rendition in renditions.items():
        envelope = crypto.encrypt(key, rendition.data, crypto.object_aad("bench", variant))
        storage.put_object(storage.object_name(1, "bench", variant), envelope)


def median_ms(fn, runs: int = RUNS) -> float:
    fn()  # warm-up (PKI, thread pools, caches)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    if not shutil.which("cwebp"):
        sys.exit("cwebp not found: apt-get install webp")
    print(f"post-provider pipeline vs cwebp -q 90, median of {RUNS} runs, {os.cpu_count()} cores")
    print(
        f"{'image':>10} {'pipeline ms':>12} {'no-C2PA ms':>11} {'cwebp ms':>9} {'ratio':>6}"
        f" {'signing ms':>11}"
    )
    for width, height in ((1024, 1024), (1920, 1080)):
        png = provider_png(width, height)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in.png"
            src.write_bytes(png)
            out = Path(tmp) / "out.webp"
            cwebp = median_ms(
                lambda src=src, out=out: subprocess.run(
                    ["cwebp", "-quiet", "-q", "90", str(src), "-o", str(out)], check=True
                )
            )
        full = median_ms(lambda png=png: post_provider(png, sign=True))
        unsigned = median_ms(lambda png=png: post_provider(png, sign=False))
        print(
            f"{width}x{height:<5} {full:12.1f} {unsigned:11.1f} {cwebp:9.1f} {full / cwebp:6.2f}"
            f" {full - unsigned:11.1f}"
        )


if __name__ == "__main__":
    main()
