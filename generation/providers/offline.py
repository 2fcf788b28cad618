"""The offline generator: a real, deterministic provider that needs no network.

It paints a layered landscape at about one megapixel: a multi-stop sky gradient with a glow,
sun or moon, stars or soft clouds, then ridges, dunes, tree lines, a skyline or the sea, with
haze and mist between the layers for depth, a vignette and a fine film grain. The time of day
(``sunset``, ``night``, ``dawn``, ``day`` and their synonyms) and the scene (``forest``,
``ocean``, ``city``, ``desert``, ``snow``, ``mountains`` and synonyms) come from keywords in the
prompt, everything else (palette shifts, shapes, positions) from a hash of (prompt, seed): the
same (prompt, seed) always gives byte-identical PNGs, a different prompt or seed a visibly
different picture. Without a seed, one is derived from the prompt and returned in the result,
so it reproduces the image. Pillow only; about 0.15-0.25 s per image.

Prompts naming common things ("orange tabby cat", "lighthouse on a rocky cliff", "red sports
car", "an apple on a table", ...) get them as vector motifs (``motifs.py``) placed by the scene's
composition, in the colour the prompt gives them.

Edits (``request.source_image`` set) change only the area of the mask (white, or opaque when the
mask has transparency; no mask = the whole image), feathered at its edge, and follow the prompt:
"add a cat" paints the motif into the marked area, "remove ..." fills it from its surroundings,
"brighter"/"glow" and "darker"/"night" relight it, and a colour ("make the sky violet", or one
derived from the prompt's hash) recolours it keeping its light and texture. Pixels away from the
mask are untouched; the output has the source's size.

Test hooks, honoured only when the provider is built with ``prompt_hooks=True`` (setting
``TEST_PROMPT_HOOKS``: on in the test suite and benchmarks, off by default, so no user can
pin a worker or forge an error code), and only when the prompt contains the exact token:

``[[fail:<code>]]`` / ``[[fail:<code>:<seconds>]]``
    raise ``ProviderError(<code>)``; retryable for ``provider_unavailable``,
    ``provider_timeout`` and ``quota_exceeded``, with ``retry_after=<seconds>`` when given.
    ``cancelled`` raises ``Cancelled``; an unknown code becomes ``internal``.
``[[fail:<code>@seed=<n>]]``
    the same, only for the request with seed ``n`` (one variant of several fails).
``[[sleep:<seconds>]]``
    wait first, like a remote provider, in small steps that report progress (with an ETA) and
    check ``is_cancelled`` (raising ``Cancelled``). A sleep longer than ``request.timeout`` ends
    with a retryable ``provider_timeout`` when the timeout passes.

Sleep runs before fail, so ``[[sleep:2]] [[fail:internal]]`` is a slow failure.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import random
import re
import time
from collections.abc import Callable

from PIL import (
    Image,
    ImageChops,
    ImageDraw,
    ImageEnhance,
    ImageFilter,
    ImageOps,
    ImageStat,
    UnidentifiedImageError,
)

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
from .motifs import DEFAULT_COLORS, NOUNS, SUBJECT_SCENES, Light, MotifPainter, subjects_in
from .sizes import dimensions_for

MODEL_VERSION = "procedural-1"

_FAIL = re.compile(r"\[\[fail:([a-z_]+)(?::([0-9]+(?:\.[0-9]+)?))?(?:@seed=([0-9]+))?\]\]")
_SLEEP = re.compile(r"\[\[sleep:([0-9]+(?:\.[0-9]+)?)\]\]")
_RETRYABLE = {ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.PROVIDER_TIMEOUT, ErrorCode.QUOTA_EXCEEDED}
_CODES = {
    ErrorCode.INVALID_REQUEST,
    ErrorCode.CONTENT_BLOCKED,
    ErrorCode.PROVIDER_UNAVAILABLE,
    ErrorCode.PROVIDER_TIMEOUT,
    ErrorCode.QUOTA_EXCEEDED,
    ErrorCode.INTERNAL,
}
_SLEEP_STEP = 0.05

Color = tuple[int, int, int]

# Time of day: sky stops (top, middle, horizon), light (sun/moon), how the land is lit
# (ambient tint and brightness), cloud colour.
TIMES: dict[str, dict] = {
    "day": {
        "sky": ((58, 118, 196), (128, 184, 230), (214, 234, 246)),
        "light": (255, 250, 228),
        "ambient": ((255, 255, 255), 1.0),
        "clouds": (255, 255, 255),
    },
    "sunset": {
        "sky": ((40, 30, 88), (196, 86, 120), (255, 172, 92)),
        "light": (255, 222, 150),
        "ambient": ((255, 150, 120), 0.62),
        "clouds": (255, 160, 150),
    },
    "dawn": {
        "sky": ((70, 96, 168), (216, 160, 186), (255, 214, 176)),
        "light": (255, 240, 206),
        "ambient": ((240, 190, 210), 0.78),
        "clouds": (255, 214, 214),
    },
    "night": {
        "sky": ((4, 8, 30), (18, 32, 76), (48, 64, 118)),
        "light": (240, 240, 222),
        "ambient": ((110, 130, 200), 0.3),
        "clouds": (70, 82, 120),
    },
}
# Scene: the land's own colour in daylight.
SCENES: dict[str, Color] = {
    "mountains": (92, 110, 146),
    "forest": (44, 96, 62),
    "ocean": (72, 104, 126),
    "city": (66, 70, 92),
    "desert": (212, 150, 96),
    "snow": (206, 218, 238),
}
_TIME_WORDS = {
    "sunset": "sunset",
    "sundown": "sunset",
    "dusk": "sunset",
    "evening": "sunset",
    "golden": "sunset",
    "twilight": "sunset",
    "night": "night",
    "midnight": "night",
    "moon": "night",
    "moonlight": "night",
    "moonlit": "night",
    "star": "night",
    "stars": "night",
    "starry": "night",
    "galaxy": "night",
    "dark": "night",
    "dawn": "dawn",
    "sunrise": "dawn",
    "morning": "dawn",
    "daybreak": "dawn",
    "day": "day",
    "noon": "day",
    "sunny": "day",
    "afternoon": "day",
    "summer": "day",
}
_SCENE_WORDS = {
    "forest": "forest",
    "forests": "forest",
    "tree": "forest",
    "trees": "forest",
    "woods": "forest",
    "jungle": "forest",
    "pine": "forest",
    "ocean": "ocean",
    "sea": "ocean",
    "beach": "ocean",
    "coast": "ocean",
    "harbour": "ocean",
    "harbor": "ocean",
    "lake": "ocean",
    "water": "ocean",
    "island": "ocean",
    "lighthouse": "ocean",
    "waves": "ocean",
    "city": "city",
    "cityscape": "city",
    "skyline": "city",
    "town": "city",
    "street": "city",
    "futuristic": "city",
    "buildings": "city",
    "desert": "desert",
    "dune": "desert",
    "dunes": "desert",
    "sand": "desert",
    "canyon": "desert",
    "snow": "snow",
    "snowy": "snow",
    "winter": "snow",
    "ice": "snow",
    "glacier": "snow",
    "mountain": "mountains",
    "mountains": "mountains",
    "hills": "mountains",
    "valley": "mountains",
}
_COLOR_WORDS: dict[str, Color] = {
    "red": (220, 40, 50),
    "orange": (245, 140, 30),
    "yellow": (245, 215, 40),
    "gold": (230, 180, 50),
    "golden": (230, 180, 50),
    "green": (50, 180, 80),
    "teal": (30, 170, 160),
    "cyan": (40, 200, 220),
    "blue": (40, 100, 230),
    "purple": (140, 60, 200),
    "violet": (150, 90, 220),
    "pink": (240, 110, 170),
    "magenta": (220, 50, 170),
    "brown": (140, 90, 50),
    "white": (240, 240, 240),
    "black": (30, 30, 36),
    "silver": (190, 196, 206),
}


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> Color:
    t = max(0.0, min(1.0, t))
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _scale(color: Color, factor: float) -> Color:
    return tuple(max(0, min(255, round(c * factor))) for c in color)  # type: ignore[return-value]


def _digest(*parts: object) -> int:
    text = "\x00".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _words(prompt: str) -> list[str]:
    return re.findall(r"[a-z]+", prompt.lower())


# Motif proportions: (height as a share of the picture's height, width per unit of height).
_MOTIF_SIZES: dict[str, tuple[float, float]] = {
    "cat": (0.42, 0.75),
    "dog": (0.36, 1.3),
    "lighthouse": (0.46, 0.5),
    "car": (0.26, 2.5),
    "apple": (0.3, 1.1),
    "tree": (0.62, 0.9),
    "house": (0.42, 1.45),
    "boat": (0.22, 1.3),
    "flower": (0.4, 0.5),
}
# What subjects stand on, per scene (and on a table when the prompt says so).
_STAGES: dict[str, Color] = {
    "forest": (70, 120, 56),
    "mountains": (96, 132, 70),
    "ocean": (214, 192, 150),
    "city": (86, 88, 96),
    "desert": (214, 164, 108),
    "snow": (232, 238, 246),
    "table": (134, 88, 54),
}


def _subject_colors(words: list[str], subjects: list[str]) -> dict[str, Color]:
    """Each subject's colour: the colour word just before its noun ("red sports car", "orange
    tabby cat"), else its usual colour."""
    colors: dict[str, Color] = {}
    pending: Color | None = None
    for word in words:
        if word in _COLOR_WORDS:
            pending = _COLOR_WORDS[word]
            continue
        motif = NOUNS.get(word) or (NOUNS.get(word[:-1]) if word.endswith("s") else None)
        if motif in subjects and motif not in colors and pending is not None:
            colors[motif] = pending
            pending = None
    for motif in subjects:
        colors.setdefault(motif, DEFAULT_COLORS[motif])
    return colors


class OfflineProvider(Provider):
    """Procedural landscapes and edits, deterministic for (prompt, seed). See the module doc."""

    name = "offline"

    def __init__(self, *, prompt_hooks: bool = False) -> None:
        self.prompt_hooks = prompt_hooks

    def is_available(self) -> bool:
        return True

    def generate(
        self,
        request: GenerationRequest,
        *,
        report: ProgressReporter = no_progress,
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> ProviderResult:
        if self.prompt_hooks:
            self._test_hooks(request, report, is_cancelled)
        seed = request.seed if request.seed is not None else _digest("seed", request.prompt) % (2**31)
        report(stage="generating", progress=10)
        if request.source_image is not None:
            image = self._edit(request, seed, is_cancelled)
        else:
            try:
                width, height = dimensions_for(request.aspect_ratio, request.image_size)
            except ValueError:
                raise ProviderError(
                    ErrorCode.INVALID_REQUEST,
                    f"The offline generator does not support {request.aspect_ratio} at {request.image_size}.",
                ) from None
            image = Painter(request.prompt, seed, width, height).paint(report, is_cancelled)
        if request.references:
            image = self._with_references(image, request.references)
        if is_cancelled():
            raise Cancelled()
        report(stage="generating", progress=90)
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1)
        report(stage="generating", progress=100)
        return ProviderResult(
            data=buffer.getvalue(),
            mime="image/png",
            model_version=MODEL_VERSION,
            seed=seed,
            usage={"images": 1},
        )

    # -- test hooks ---------------------------------------------------------------------------------

    @staticmethod
    def _test_hooks(
        request: GenerationRequest, report: ProgressReporter, is_cancelled: Callable[[], bool]
    ) -> None:
        sleep = _SLEEP.search(request.prompt)
        if sleep:
            total = float(sleep.group(1))
            started = time.monotonic()
            timeout = request.timeout
            while (elapsed := time.monotonic() - started) < total:
                if is_cancelled():
                    raise Cancelled()
                if elapsed >= timeout:
                    raise ProviderError(
                        ErrorCode.PROVIDER_TIMEOUT,
                        f"The offline generator did not finish within {timeout:g} seconds.",
                        retryable=True,
                    )
                report(
                    stage="generating",
                    progress=int(80 * elapsed / total),
                    eta_seconds=round(total - elapsed + 0.2, 1),
                )
                time.sleep(min(_SLEEP_STEP, total - elapsed, max(0.0, timeout - elapsed) + 0.001))
        fail = _FAIL.search(request.prompt)
        if fail and fail.group(3) is not None and request.seed != int(fail.group(3)):
            fail = None  # another variant's failure
        if fail:
            code = fail.group(1)
            if code == ErrorCode.CANCELLED:
                raise Cancelled()
            if code not in _CODES:
                code = ErrorCode.INTERNAL
            raise ProviderError(
                code,
                f"The offline generator was asked to fail with {code}.",
                retryable=code in _RETRYABLE,
                retry_after=float(fail.group(2)) if fail.group(2) else None,
            )

    # -- references ---------------------------------------------------------------------------------

    @classmethod
    def _with_references(cls, image: Image.Image, references: tuple[bytes, ...]) -> Image.Image:
        """The picture drawn on its references: their average, fitted to its size, blended in
        (a third), so that what they show visibly carries into the result."""
        rgb = image.convert("RGB")
        fitted = [
            ImageOps.fit(cls._open(data, "reference image").convert("RGB"), rgb.size) for data in references
        ]
        mean = fitted[0]
        for index, other in enumerate(fitted[1:], start=2):
            mean = Image.blend(mean, other, 1 / index)
        return Image.blend(rgb, mean, 0.35)

    # -- edits --------------------------------------------------------------------------------------

    @staticmethod
    def _open(data: bytes, what: str) -> Image.Image:
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ProviderError(
                ErrorCode.INVALID_REQUEST, f"The {what} could not be read as an image."
            ) from exc
        return image

    @classmethod
    def _mask(cls, data: bytes | None, size: tuple[int, int]) -> Image.Image:
        """The area to change as an "L" image of ``size``: 255 = change, 0 = keep."""
        if data is None:
            return Image.new("L", size, 255)
        mask = cls._open(data, "mask")
        has_alpha = mask.mode in ("RGBA", "LA", "PA") or "transparency" in mask.info
        if has_alpha:
            alpha = mask.convert("RGBA").getchannel("A")
            # Transparency carries the mask when there is any: opaque = change.
            mask = alpha if alpha.getextrema()[0] < 255 else mask.convert("RGB").convert("L")
        else:
            mask = mask.convert("L")
        if mask.size != size:
            mask = mask.resize(size, Image.Resampling.BILINEAR)
        mask = mask.point(lambda v: 255 if v >= 128 else 0)
        if mask.getbbox() is None:
            raise ProviderError(ErrorCode.INVALID_REQUEST, "The mask marks no area to change.")
        return mask

    def _edit(self, request: GenerationRequest, seed: int, is_cancelled: Callable[[], bool]) -> Image.Image:
        source = self._open(request.source_image or b"", "image to edit")
        alpha = None
        if source.mode in ("RGBA", "LA", "PA") or "transparency" in source.info:
            alpha = source.convert("RGBA").getchannel("A")
        rgb = source.convert("RGB")
        mask = self._mask(request.mask, rgb.size)
        if is_cancelled():
            raise Cancelled()

        rng = random.Random(_digest("edit", request.prompt, seed))
        edited = _edited(rgb, mask, request.prompt, rng)
        feather = max(1.5, min(rgb.size) / 300)
        result = Image.composite(edited, rgb, mask.filter(ImageFilter.GaussianBlur(feather)))
        if alpha is not None:
            result.putalpha(alpha)
        return result


_REMOVE_WORDS = {"remove", "erase", "delete", "without", "clear"}
_BRIGHT_WORDS = {"glow", "glowing", "bright", "brighter", "light", "lighter", "shine", "sunny", "sun"}
_DARK_WORDS = {"dark", "darker", "night", "shadow", "shade", "dim"}


def _edited(rgb: Image.Image, mask: Image.Image, prompt: str, rng: random.Random) -> Image.Image:
    """The whole picture as the prompt would change it; the caller keeps it inside the mask."""
    words = _words(prompt)
    subjects = [m for m in subjects_in(words) if m != "birds"]
    box = mask.getbbox() or (0, 0, *rgb.size)
    if _REMOVE_WORDS & set(words):
        # Fill from around the area: a blur wide enough to forget what was there.
        left, top, right, bottom = box
        radius = max(4.0, max(right - left, bottom - top) / 3)
        return rgb.filter(ImageFilter.GaussianBlur(radius))
    if subjects:
        result = rgb.copy()
        left, top, right, bottom = box
        light = Light((255, 255, 255), _brightness(rgb.crop(box)), (255, 250, 228), True, False)
        painter = MotifPainter(result, rng, light)
        color = _subject_colors(words, subjects)[subjects[0]]
        _, width = _MOTIF_SIZES[subjects[0]]
        size = min((bottom - top) * 0.85, (right - left) * 0.85 / width)
        painter.paint(subjects[0], (left + right) / 2, bottom - (bottom - top) * 0.06, size, color)
        return result
    if _BRIGHT_WORDS & set(words):
        warm = Image.blend(rgb, Image.new("RGB", rgb.size, (255, 236, 180)), 0.18)
        return ImageEnhance.Brightness(warm).enhance(1.45)
    if _DARK_WORDS & set(words):
        cool = Image.blend(rgb, Image.new("RGB", rgb.size, (30, 40, 90)), 0.25)
        return ImageEnhance.Brightness(cool).enhance(0.55)
    tint = next((_COLOR_WORDS[w] for w in words if w in _COLOR_WORDS), None)
    if tint is None:
        r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.55, 0.85), rng.uniform(0.8, 1.0))
        tint = (round(r * 255), round(g * 255), round(b * 255))
    # Recolour by luminance: the area keeps its light, shade and texture, in the new colour.
    gray = ImageOps.grayscale(rgb)
    recoloured = ImageOps.colorize(
        gray, black=_scale(tint, 0.12), mid=tint, white=_mix(tint, (255, 255, 255), 0.8)
    )
    return Image.blend(recoloured, rgb, 0.25)


def _brightness(image: Image.Image) -> float:
    """How bright a picture is, as a motif's light level (0.45 dark ... 1.1 bright)."""
    mean = ImageStat.Stat(image.convert("L")).mean[0]
    return max(0.45, min(1.1, mean / 150))


class Painter:
    """Paints one landscape at (width, height), deterministic for (prompt, seed).

    Works at half resolution (smooth shapes and gradients at a quarter of the cost), then scales
    up and adds full-resolution grain.
    """

    def __init__(self, prompt: str, seed: int, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.w, self.h = max(32, width // 2), max(32, height // 2)
        self.rng = random.Random(_digest("paint", prompt, seed))
        words = _words(prompt)
        rng = self.rng
        self.time_of_day = next(
            (_TIME_WORDS[w] for w in words if w in _TIME_WORDS),
            rng.choice(("day", "day", "sunset", "sunset", "dawn", "night")),
        )
        self.subjects = subjects_in(words)
        self.subject_colors = _subject_colors(words, self.subjects)
        suggested = next((SUBJECT_SCENES[m] for m in self.subjects if m in SUBJECT_SCENES), None)
        named = [w for w in words if w in _SCENE_WORDS and not (w in NOUNS and self.subjects)]
        self.scene = (
            _SCENE_WORDS[named[0]]
            if named
            else rng.choice(suggested)
            if suggested
            else rng.choice(sorted(SCENES))
        )
        self.on_table = "table" in words or "desk" in words
        spec = TIMES[self.time_of_day]
        # A prompt-specific shift of the palette keeps two "sunset" prompts apart.
        accent = tuple(rng.randrange(256) for _ in range(3))
        top, middle, horizon = spec["sky"]
        self.sky = (
            _mix(top, accent, rng.uniform(0, 0.22)),
            _mix(middle, accent, rng.uniform(0, 0.15)),
            horizon,
        )
        self.light = spec["light"]
        ambient, brightness = spec["ambient"]
        land = _mix(SCENES[self.scene], accent, rng.uniform(0, 0.2))
        self.land = _scale(_mix(land, ambient, 0.3), brightness)
        self.clouds = spec["clouds"]
        self.horizon_y = self.h * rng.uniform(0.5, 0.62 if self.scene == "ocean" else 0.7)
        self.haze = _mix(horizon, self.light, 0.15)

    # -- whole picture ------------------------------------------------------------------------------

    def paint(self, report: ProgressReporter, is_cancelled: Callable[[], bool]) -> Image.Image:
        image = self._sky()
        draw = ImageDraw.Draw(image, "RGBA")
        if self.time_of_day == "night":
            self._stars(draw)
        self._light(image, draw)
        if self.time_of_day != "night" or self.rng.random() < 0.5:
            self._clouds(image)
        report(stage="generating", progress=35)
        if is_cancelled():
            raise Cancelled()
        getattr(self, f"_scene_{self.scene}")(image, draw)
        if self.subjects:
            self._subjects(image)
        report(stage="generating", progress=65)
        if is_cancelled():
            raise Cancelled()
        image = image.filter(ImageFilter.GaussianBlur(0.6))
        image = self._vignette(image)
        image = image.resize((self.width, self.height), Image.Resampling.BICUBIC)
        return self._grain(image)

    def _sky(self) -> Image.Image:
        top, middle, horizon = self.sky
        rng = self.rng
        split = rng.uniform(0.45, 0.7)
        column = []
        for y in range(self.h):
            t = min(1.0, y / max(1.0, self.horizon_y))
            if t < split:
                column.append(_mix(top, middle, (t / split) ** 0.9))
            else:
                column.append(_mix(middle, horizon, ((t - split) / (1 - split)) ** 0.8))
        sky = Image.new("RGB", (1, self.h))
        sky.putdata(column)
        return sky.resize((self.w, self.h), Image.Resampling.BILINEAR)

    def _glow(
        self, image: Image.Image, x: float, y: float, radius: float, color: Color, strength: int
    ) -> None:
        size = max(2, int(radius * 2))
        # radial_gradient reaches 255 only in the corners (181 at the middle of each edge): stretch
        # it so the glow is 0 on the inscribed circle, or the halo shows the square's edges.
        radial = Image.radial_gradient("L").point(lambda v: min(255, v * 255 // 181))
        falloff = ImageOps.invert(radial).resize((size, size), Image.Resampling.BILINEAR)
        falloff = falloff.point(lambda v: int(strength * (v / 255) ** 2.2))
        image.paste(Image.new("RGB", (size, size), color), (int(x - size / 2), int(y - size / 2)), falloff)

    def _light(self, image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
        rng = self.rng
        w, h = self.w, self.h
        x = rng.uniform(0.15, 0.85) * w
        radius = rng.uniform(0.035, 0.07) * min(w, h) * (1.0 if self.time_of_day == "night" else 1.3)
        if self.time_of_day in ("sunset", "dawn"):
            y = self.horizon_y - rng.uniform(-0.3, 1.8) * radius  # low, maybe half set
        else:
            y = self.horizon_y * rng.uniform(0.2, 0.55)
        self.sun = (x, y, radius)
        strength = 110 if self.time_of_day == "night" else 200
        self._glow(image, x, y, radius * rng.uniform(9, 14), self.light, strength)
        self._glow(image, x, y, radius * 3, self.light, 160)
        if self.time_of_day == "night" and rng.random() < 0.7:
            # A crescent is a disc minus an offset disc: a shape of its own, painted through a
            # mask, so the sky and glow behind show where the moon is dark (no grey disc on top).
            dx, dy = radius * rng.uniform(0.35, 0.6), -radius * rng.uniform(0.0, 0.3)
            scale = 4  # drawn large, then reduced: smooth edges
            size = int(radius * 2 * scale) + 4
            disc = Image.new("L", (size, size), 0)
            ImageDraw.Draw(disc).ellipse((2, 2, size - 3, size - 3), fill=255)
            bite = Image.new("L", (size, size), 0)
            ImageDraw.Draw(bite).ellipse(
                (2 + dx * scale, 2 + dy * scale, size - 3 + dx * scale, size - 3 + dy * scale), fill=255
            )
            crescent = ImageChops.subtract(disc, bite)
            small = max(2, size // scale)
            crescent = crescent.resize((small, small), Image.Resampling.LANCZOS)
            image.paste(
                Image.new("RGB", crescent.size, self.light),
                (int(x - small / 2), int(y - small / 2)),
                crescent,
            )
        else:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(*self.light, 255))

    def _stars(self, draw: ImageDraw.ImageDraw) -> None:
        rng = self.rng
        for _ in range(int(self.w * self.horizon_y / 700)):
            x, y = rng.uniform(0, self.w), rng.uniform(0, self.horizon_y) ** 1.15 / self.horizon_y**0.15
            alpha = int(255 * rng.random() ** 2)
            if rng.random() < 0.06:
                draw.ellipse((x - 1, y - 1, x + 1, y + 1), fill=(255, 255, 240, max(alpha, 160)))
            else:
                draw.point((x, y), fill=(255, 255, 240, alpha))

    def _clouds(self, image: Image.Image) -> None:
        rng = self.rng
        cw, ch = max(16, self.w // 4), max(16, self.h // 4)
        layer = Image.new("L", (cw, ch), 0)
        draw = ImageDraw.Draw(layer)
        for _ in range(rng.randint(2, 6)):
            cx, cy = rng.uniform(-0.1, 1.1) * cw, rng.uniform(0.1, 0.8) * self.horizon_y / 4
            length, thickness = rng.uniform(0.15, 0.45) * cw, rng.uniform(0.02, 0.05) * ch
            for _ in range(rng.randint(5, 10)):
                px = cx + rng.uniform(-0.5, 0.5) * length
                py = cy + rng.uniform(-1, 0.5) * thickness
                rx, ry = rng.uniform(0.15, 0.35) * length, thickness * rng.uniform(0.8, 1.8)
                draw.ellipse((px - rx, py - ry, px + rx, py + ry), fill=rng.randrange(150, 230))
        layer = layer.filter(ImageFilter.GaussianBlur(max(1.0, cw / 110)))
        layer = layer.resize((self.w, self.h), Image.Resampling.BILINEAR)
        tone = _mix(self.clouds, self.sky[1], 0.25)
        image.paste(Image.new("RGB", (self.w, self.h), tone), (0, 0), layer)

    # -- land ---------------------------------------------------------------------------------------

    def _layer_color(self, depth: float) -> Color:
        """depth 0 = far (hazy, light), 1 = near (the land's own colour, darker)."""
        near = _scale(self.land, 0.55 + 0.45 * (1 - depth))
        return _mix(self.haze, near, 0.25 + 0.75 * depth)

    def _ridge(self, count: int, roughness: float) -> list[float]:
        """Midpoint displacement: ``count`` heights in about [-1, 1] with a natural, peaky profile."""
        n = 1
        while n < count - 1:
            n *= 2
        heights = [0.0] * (n + 1)
        heights[0], heights[n] = self.rng.uniform(-1, 1), self.rng.uniform(-1, 1)
        step, amplitude = n, 1.0
        while step > 1:
            half = step // 2
            for i in range(half, n, step):
                heights[i] = (heights[i - half] + heights[i + half]) / 2 + self.rng.uniform(-1, 1) * amplitude
            step, amplitude = half, amplitude * roughness
        return heights[: count + 1]

    def _polygon(self, draw: ImageDraw.ImageDraw, xs: list[float], ys: list[float], color: Color) -> None:
        draw.polygon([(0, self.h + 1), *zip(xs, ys, strict=True), (self.w, self.h + 1)], fill=(*color, 255))

    def _mist(self, image: Image.Image, base: float, height: float, strength: int) -> None:
        """A band of haze fading upwards from ``base``: valleys filling with mist."""
        top = int(base - height)
        band_h = max(2, int(height))
        gradient = Image.linear_gradient("L").resize((self.w, band_h)).point(lambda v: v * strength // 255)
        image.paste(Image.new("RGB", (self.w, band_h), self.haze), (0, top), gradient)

    def _ridges(
        self, image: Image.Image, draw: ImageDraw.ImageDraw, layers: int, *, snowy: bool = False
    ) -> None:
        rng = self.rng
        w, h = self.w, self.h
        for layer in range(layers):
            depth = layer / max(1, layers - 1)
            base = self.horizon_y + (h - self.horizon_y) * (0.05 + 0.75 * depth**1.3)
            amplitude = h * rng.uniform(0.08, 0.2) * (1.2 - 0.6 * depth)
            heights = self._ridge(64, rng.uniform(0.5, 0.62))
            xs = [w * i / 64 for i in range(65)]
            ys = [base - amplitude * (0.6 + 0.5 * v) for v in heights]
            color = self._layer_color(depth * 0.9)
            if snowy and depth < 0.7:
                color = _mix(
                    color, _scale((240, 246, 255), max(0.35, self.land[2] / 255)), 0.55 - 0.5 * depth
                )
            self._polygon(draw, xs, ys, color)
            if layer < layers - 1:
                self._mist(image, base + amplitude * 0.2, (h - self.horizon_y) * 0.35, 70)

    def _scene_mountains(self, image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
        self._ridges(image, draw, self.rng.randint(4, 6))

    def _scene_snow(self, image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
        self._ridges(image, draw, self.rng.randint(4, 5), snowy=True)

    def _scene_forest(self, image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
        rng = self.rng
        w, h = self.w, self.h
        self._ridges(image, draw, 2)
        for row in range(3):
            depth = 0.45 + 0.27 * row
            base = self.horizon_y + (h - self.horizon_y) * (0.3 + 0.3 * row)
            tree_h = (h - self.horizon_y) * (0.16 + 0.14 * row)
            color = self._layer_color(depth)
            wave = [base + tree_h * 0.15 * v for v in self._ridge(16, 0.5)]
            self._polygon(draw, [w * i / 16 for i in range(17)], wave, color)
            x = -tree_h * 0.3
            while x < w + tree_h * 0.3:
                ground = wave[min(16, max(0, int(16 * x / w)))]
                height = tree_h * rng.uniform(0.6, 1.2)
                half = height * rng.uniform(0.16, 0.24)
                for tier in range(3):  # a pine: three stacked triangles
                    tip = ground - height * (1 - tier * 0.25)
                    bottom = ground - height * (0.45 - tier * 0.22)
                    spread = half * (0.6 + tier * 0.25)
                    draw.polygon([(x, tip), (x - spread, bottom), (x + spread, bottom)], fill=(*color, 255))
                draw.rectangle(
                    (x - half * 0.12, ground - height * 0.3, x + half * 0.12, ground + 2), fill=color
                )
                x += half * rng.uniform(0.9, 1.8)
            if row < 2:
                self._mist(image, base, tree_h * 0.8, 60)

    def _scene_city(self, image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
        rng = self.rng
        w, h = self.w, self.h
        self._ridges(image, draw, 2)
        lit = self.time_of_day in ("night", "sunset", "dawn")
        window = _mix((255, 214, 140), self.light, 0.3)
        for row in range(2):
            depth = 0.5 + 0.5 * row
            color = self._layer_color(depth)
            ground = h - (h - self.horizon_y) * (0.35 - 0.3 * row)
            x = rng.uniform(-20, 0)
            while x < w:
                bw = rng.uniform(0.03, 0.08) * w * (0.8 + 0.4 * row)
                bh = rng.uniform(0.12, 0.42) * h * (1.1 - 0.25 * row)
                top = ground - bh
                draw.rectangle((x, top, x + bw, h), fill=(*color, 255))
                if rng.random() < 0.25:  # antenna or spire
                    draw.rectangle((x + bw / 2 - 1, top - bh * 0.15, x + bw / 2, top), fill=(*color, 255))
                if lit and row == 1:
                    cell = max(3.0, w / 160)
                    for wy in range(int(top + cell), int(h - cell), int(cell * 1.8)):
                        for wx in range(int(x + cell * 0.6), int(x + bw - cell), int(cell * 1.6)):
                            if rng.random() < 0.35:
                                alpha = rng.randrange(120, 240)
                                draw.rectangle(
                                    (wx, wy, wx + cell * 0.6, wy + cell * 0.7), fill=(*window, alpha)
                                )
                x += bw + rng.uniform(0, 0.01) * w
            if row == 0:
                self._mist(image, ground, (h - self.horizon_y) * 0.6, 90)

    def _scene_ocean(self, image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
        rng = self.rng
        w, h = self.w, self.h
        horizon = int(self.horizon_y)
        # Water: the sky above the horizon, mirrored, darkened and tinted.
        above = image.crop((0, max(0, 2 * horizon - h), w, horizon)).transpose(
            Image.Transpose.FLIP_TOP_BOTTOM
        )
        water_tone = _scale(self.land, 0.9)
        water = Image.blend(
            above.resize((w, h - horizon)), Image.new("RGB", (w, h - horizon), water_tone), 0.45
        )
        depth = Image.linear_gradient("L").resize((w, h - horizon)).point(lambda v: v * 110 // 255)
        water.paste(Image.new("RGB", water.size, _scale(water_tone, 0.6)), (0, 0), depth)
        image.paste(water, (0, horizon))
        # An island or headland on the horizon.
        if rng.random() < 0.8:
            start, end = sorted((rng.uniform(-0.3, 0.8), rng.uniform(0.2, 1.3)))
            xs = [w * (start + (end - start) * i / 32) for i in range(33)]
            heights = self._ridge(32, 0.55)
            envelope = [math.sin(math.pi * i / 32) ** 0.7 for i in range(33)]
            amplitude = h * rng.uniform(0.03, 0.1)
            ys = [horizon - amplitude * e * (0.7 + 0.3 * v) for e, v in zip(envelope, heights, strict=True)]
            draw.polygon(
                [(xs[0], horizon), *zip(xs, ys, strict=True), (xs[-1], horizon)], fill=self._layer_color(0.3)
            )
        # Glitter on the water under the sun or moon.
        sun_x, _, radius = self.sun
        for _ in range(int((h - horizon) * 0.9)):
            t = rng.random() ** 1.5
            y = horizon + 2 + t * (h - horizon)
            spread = radius * (1 + 5 * t)
            x = sun_x + rng.gauss(0, spread * 0.5)
            length = rng.uniform(2, 6 + 18 * t)
            draw.line((x - length, y, x + length, y), fill=(*self.light, rng.randrange(40, 170)), width=1)
        # Waves: faint darker strokes, denser near the horizon.
        for _ in range(int(w * (h - horizon) / 500)):
            t = rng.random()
            y = horizon + 3 + t**1.6 * (h - horizon)
            x = rng.uniform(0, w)
            length = 2 + 20 * t
            draw.line((x, y, x + length, y), fill=(*_scale(water_tone, 0.5), rng.randrange(30, 90)), width=1)
        draw.line((0, horizon, w, horizon), fill=(*self.haze, 90), width=1)

    def _scene_desert(self, image: Image.Image, draw: ImageDraw.ImageDraw) -> None:
        rng = self.rng
        w, h = self.w, self.h
        layers = rng.randint(3, 5)
        for layer in range(layers):
            depth = layer / (layers - 1)
            base = self.horizon_y + (h - self.horizon_y) * (0.05 + 0.7 * depth)
            amplitude = (h - self.horizon_y) * rng.uniform(0.05, 0.14)
            waves = [
                (rng.uniform(0.5, 3.0), rng.uniform(0, math.tau), rng.uniform(0.3, 1.0)) for _ in range(3)
            ]
            xs = [w * i / 96 for i in range(97)]
            ys = [
                base - amplitude * sum(a * math.sin(f * math.tau * i / 96 + p) for f, p, a in waves) / 2
                for i in range(97)
            ]
            self._polygon(draw, xs, ys, self._layer_color(depth))
            if layer < layers - 1:
                self._mist(image, base, (h - self.horizon_y) * 0.25, 50)

    # -- subjects ----------------------------------------------------------------------------------

    def _subjects(self, image: Image.Image) -> None:
        """The prompt's subjects on the scene: on a foreground of their own at the thirds (an
        apple on its table in the middle), a lighthouse on a cliff above the sea, a boat on the
        water, birds in the sky; lit like the rest of the picture."""
        rng = self.rng
        w, h = self.w, self.h
        spec = TIMES[self.time_of_day]
        ambient, brightness = spec["ambient"]
        light = Light(ambient, brightness, self.light, self.sun[0] < w / 2, self.time_of_day == "night")
        painter = MotifPainter(image, rng, light)
        ground_motifs = [m for m in self.subjects if m != "birds"]
        standing = [m for m in ground_motifs if m not in ("lighthouse", "boat")]
        if standing:
            top = h * (0.7 if self.on_table else rng.uniform(0.76, 0.8))
            painter.stage(top, _STAGES["table" if self.on_table else self.scene])
        spots = [0.5 + rng.uniform(-0.06, 0.06)] if len(ground_motifs) == 1 else [0.33, 0.68]
        if len(ground_motifs) == 1 and ground_motifs[0] not in ("apple", "flower"):
            spots = [rng.choice((1 / 3, 2 / 3)) + rng.uniform(-0.04, 0.04)]
        for motif, spot in zip(ground_motifs, spots, strict=False):
            color = self.subject_colors[motif]
            height, width = _MOTIF_SIZES[motif]
            size = min(h * height, w * (0.42 if len(ground_motifs) == 1 else 0.3) / width)
            if motif == "lighthouse":
                ground = self.horizon_y - h * rng.uniform(0.02, 0.06)
            elif motif == "boat":
                ground = self.horizon_y + (h - self.horizon_y) * rng.uniform(0.25, 0.45)
            else:
                ground = h * (0.86 if self.on_table else rng.uniform(0.88, 0.92))
            painter.paint(motif, w * spot, ground, size, color)
        if "birds" in self.subjects:
            painter.paint(
                "birds",
                w * rng.uniform(0.3, 0.7),
                self.horizon_y * rng.uniform(0.25, 0.45),
                h * 0.1,
                self.subject_colors["birds"],
            )

    # -- finish -------------------------------------------------------------------------------------

    def _vignette(self, image: Image.Image) -> Image.Image:
        falloff = Image.radial_gradient("L").resize(image.size, Image.Resampling.BILINEAR)
        falloff = falloff.point(lambda v: 255 - int(75 * max(0.0, (v - 90) / 165) ** 1.6))
        return ImageChops.multiply(image, Image.merge("RGB", (falloff, falloff, falloff)))

    def _grain(self, image: Image.Image) -> Image.Image:
        """Film grain from the seeded generator (``Image.effect_noise`` is not reproducible)."""
        noise = Image.frombytes("L", image.size, self.rng.randbytes(image.width * image.height))
        noise = noise.point(lambda v: 124 + v // 32)
        return ImageChops.overlay(image, Image.merge("RGB", (noise, noise, noise)))
