"""The offline generator: a real, deterministic provider that needs no network.

It paints a layered landscape (sky gradient, sun or moon, stars, mountain ridges, haze) whose
palette and shapes come from the prompt and seed: the same (prompt, seed) gives identical
pixels, different prompts visibly different pictures. It is what `make run` and the tests use,
through the same provider interface as Gemini and fal.

Test hooks, active only when the prompt contains them literally:
``[[fail:<code>]]`` raises ProviderError(<code>) (retryable for provider_unavailable and
provider_timeout); ``[[sleep:<seconds>]]`` waits like a remote provider would, checking for
cancellation.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import time
from collections.abc import Callable

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from .base import (
    Cancelled,
    ErrorCode,
    GenerationRequest,
    ProgressReporter,
    Provider,
    ProviderError,
    ProviderResult,
    no_progress,
)
from .sizes import dimensions_for

MODEL_VERSION = "procedural-1"
_FAIL = re.compile(r"\[\[fail:([a-z_]+)\]\]")
_SLEEP = re.compile(r"\[\[sleep:([0-9.]+)\]\]")
_RETRYABLE = {ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.PROVIDER_TIMEOUT, ErrorCode.QUOTA_EXCEEDED}

# (top of sky, horizon, sun/moon, ridge base) per mood.
PALETTES = {
    "sunset": ((44, 26, 84), (252, 146, 84), (255, 226, 150), (60, 30, 60)),
    "night": ((6, 10, 36), (36, 48, 104), (236, 236, 220), (12, 16, 36)),
    "forest": ((120, 180, 210), (214, 232, 210), (255, 250, 220), (24, 70, 40)),
    "ocean": ((30, 96, 168), (170, 220, 236), (255, 252, 230), (16, 70, 110)),
    "city": ((30, 34, 60), (236, 120, 90), (255, 210, 160), (28, 26, 40)),
    "desert": ((70, 130, 200), (250, 214, 160), (255, 246, 210), (170, 100, 60)),
    "snow": ((140, 176, 220), (236, 242, 250), (255, 255, 255), (120, 140, 170)),
    "dawn": ((60, 90, 160), (250, 200, 170), (255, 240, 200), (70, 60, 100)),
}
_KEYWORDS = {
    "sunset": "sunset",
    "dusk": "sunset",
    "evening": "sunset",
    "night": "night",
    "moon": "night",
    "star": "night",
    "forest": "forest",
    "tree": "forest",
    "ocean": "ocean",
    "sea": "ocean",
    "harbour": "ocean",
    "harbor": "ocean",
    "lake": "ocean",
    "city": "city",
    "cityscape": "city",
    "desert": "desert",
    "snow": "snow",
    "winter": "snow",
    "dawn": "dawn",
    "morning": "dawn",
}


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


class OfflineProvider(Provider):
    name = "offline"

    def is_available(self) -> bool:
        return True

    def generate(
        self,
        request: GenerationRequest,
        *,
        report: ProgressReporter = no_progress,
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> ProviderResult:
        self._test_hooks(request.prompt, report, is_cancelled)
        report(stage="generating", progress=10)
        seed = request.seed if request.seed is not None else self._seed_from(request.prompt, None) % (2**31)
        if request.source_image is not None:
            image = self._edit(request)
        else:
            image = self._paint(request, seed, is_cancelled)
        if is_cancelled():
            raise Cancelled()
        report(stage="generating", progress=90)
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1)
        return ProviderResult(
            data=buffer.getvalue(),
            mime="image/png",
            model_version=MODEL_VERSION,
            seed=seed,
            usage={"images": 1},
        )

    # -- hooks --------------------------------------------------------------------------------------

    @staticmethod
    def _test_hooks(prompt: str, report: ProgressReporter, is_cancelled: Callable[[], bool]) -> None:
        sleep = _SLEEP.search(prompt)
        if sleep:
            deadline = time.monotonic() + float(sleep.group(1))
            total = max(float(sleep.group(1)), 0.001)
            while (remaining := deadline - time.monotonic()) > 0:
                if is_cancelled():
                    raise Cancelled()
                report(stage="generating", progress=int(80 * (1 - remaining / total)))
                time.sleep(min(0.05, remaining))
        fail = _FAIL.search(prompt)
        if fail:
            code = fail.group(1)
            raise ProviderError(
                code, f"The offline generator was asked to fail with {code}.", retryable=code in _RETRYABLE
            )

    # -- painting -----------------------------------------------------------------------------------

    @staticmethod
    def _seed_from(prompt: str, seed: int | None) -> int:
        digest = hashlib.sha256(f"{prompt}\x00{seed}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def _paint(self, request: GenerationRequest, seed: int, is_cancelled: Callable[[], bool]) -> Image.Image:
        width, height = dimensions_for(request.aspect_ratio, request.image_size)
        rng = random.Random(self._seed_from(request.prompt, seed))
        words = re.findall(r"[a-z]+", request.prompt.lower())
        mood = next((_KEYWORDS[w] for w in words if w in _KEYWORDS), rng.choice(sorted(PALETTES)))
        top, horizon, glow, ridge = PALETTES[mood]
        shift = rng.uniform(-0.15, 0.15)
        top = _mix(top, (rng.randrange(256), rng.randrange(256), rng.randrange(256)), abs(shift))

        # Paint small, then scale up: smooth gradients at a fraction of the cost.
        sw, sh = max(64, width // 2), max(64, height // 2)
        gradient = Image.linear_gradient("L").resize((sw, sh))
        sky = Image.composite(Image.new("RGB", (sw, sh), horizon), Image.new("RGB", (sw, sh), top), gradient)
        draw = ImageDraw.Draw(sky, "RGBA")
        horizon_y = sh * rng.uniform(0.55, 0.72)
        if mood in ("night", "city"):
            for _ in range(int(sw * sh / 3600)):
                x, y = rng.uniform(0, sw), rng.uniform(0, horizon_y)
                alpha = rng.randrange(90, 255)
                draw.point((x, y), fill=(255, 255, 240, alpha))
        sun_x, sun_y = rng.uniform(0.15, 0.85) * sw, horizon_y - rng.uniform(0.08, 0.3) * sh
        radius = rng.uniform(0.04, 0.09) * min(sw, sh) * 2
        for step in range(40, 0, -1):
            r = radius * (1 + step * 0.12)
            draw.ellipse((sun_x - r, sun_y - r, sun_x + r, sun_y + r), fill=(*glow, 4))
        draw.ellipse((sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius), fill=(*glow, 255))
        if is_cancelled():
            raise Cancelled()

        layers = rng.randint(3, 5)
        for layer in range(layers):
            depth = (layer + 1) / layers
            color = _mix(_mix(horizon, ridge, 0.35), ridge, depth)
            base = horizon_y + (sh - horizon_y) * (depth - 0.55) * 0.9
            points = [(0, sh)]
            x, y = 0.0, base - rng.uniform(0, 0.1) * sh
            roughness = rng.uniform(0.02, 0.07) * sh * (1.2 - depth * 0.5)
            while x < sw:
                points.append((x, y))
                x += rng.uniform(sw / 40, sw / 12)
                y = min(sh, max(horizon_y - 0.25 * sh, y + rng.uniform(-roughness, roughness)))
            points.append((sw, y))
            if mood == "city" and layer == layers - 1:
                points = [(0, sh)]
                x = 0.0
                while x <= sw:
                    bw, bh = rng.uniform(sw / 30, sw / 12), rng.uniform(0.1, 0.4) * sh
                    points += [(x, sh - bh), (x + bw, sh - bh)]
                    x += bw
            points.append((sw, sh))
            draw.polygon(points, fill=(*color, 255))
            if layer < layers - 1:  # haze between ridges: depth
                draw.rectangle((0, 0, sw, sh), fill=(*horizon, 18))
        image = sky.filter(ImageFilter.GaussianBlur(0.7)).resize((width, height), Image.Resampling.BICUBIC)
        # Film grain from the seeded generator (Image.effect_noise is not reproducible).
        gw, gh = width // 2, height // 2
        grain = Image.frombytes("L", (gw, gh), rng.randbytes(gw * gh)).resize((width, height))
        image = ImageChops.overlay(image, grain.point(lambda v: 120 + v // 32).convert("RGB"))
        return image.filter(ImageFilter.SMOOTH)

    def _edit(self, request: GenerationRequest) -> Image.Image:
        """A visible edit inside the mask: the region is recoloured with a tint from the prompt."""
        source = Image.open(io.BytesIO(request.source_image)).convert("RGB")
        if request.mask is not None:
            mask = Image.open(io.BytesIO(request.mask)).convert("L").resize(source.size)
        else:
            mask = Image.new("L", source.size, 255)
        mask = mask.point(lambda v: 255 if v >= 128 else 0).filter(ImageFilter.GaussianBlur(2))
        rng = random.Random(self._seed_from(request.prompt, request.seed))
        tint = (rng.randrange(40, 256), rng.randrange(40, 256), rng.randrange(40, 256))
        recoloured = ImageOps.colorize(ImageOps.grayscale(source), black=(10, 10, 30), white=tint)
        edited = ImageOps.posterize(recoloured, 4)
        return Image.composite(edited, source, mask)
