"""The offline inspector: answers a question about an image from what can be measured without a
vision model, and says plainly that it cannot see what the image shows.

It reports the size, the main colours, brightness and contrast (of the marked region against the
whole image when there is one), the image's provenance and AI label, and what the user drew. It
never guesses content, and it never quotes the question.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PIL import Image, ImageStat

from embeds.imaging.decode import open_untrusted

from ..providers.base import Cancelled
from .base import AnalysisRequest, AnalysisResult
from .region import bounding_box, describe_shapes

# Reference colours for naming a palette entry (nearest in RGB; coarse on purpose).
_NAMES = {
    "black": (0, 0, 0),
    "dark grey": (64, 64, 64),
    "grey": (128, 128, 128),
    "light grey": (192, 192, 192),
    "white": (255, 255, 255),
    "red": (200, 30, 30),
    "dark red": (120, 20, 20),
    "orange": (240, 140, 30),
    "brown": (130, 80, 40),
    "yellow": (240, 220, 40),
    "olive": (120, 120, 30),
    "green": (40, 160, 60),
    "dark green": (20, 80, 30),
    "teal": (30, 140, 140),
    "cyan": (60, 210, 230),
    "blue": (30, 90, 220),
    "navy": (20, 30, 100),
    "purple": (120, 50, 160),
    "pink": (240, 140, 180),
    "beige": (225, 205, 170),
}
PALETTE_SIZE = 5
_SAMPLE_SIDE = 256
VISION_NEEDED = (
    "I can't see what the image shows: this server has no vision model configured, so I can only "
    "report what can be measured. To get an answer about the content, the operator can set "
    "GOOGLE_API_KEY (the answer then comes from google/gemini-3.5-flash)."
)


def colour_name(rgb: tuple[int, int, int]) -> str:
    return min(_NAMES, key=lambda name: math.dist(_NAMES[name], rgb))


def palette(image: Image.Image, count: int = PALETTE_SIZE) -> list[dict]:
    """The ``count`` main colours with their share of the pixels, largest first."""
    sample = image.convert("RGB")
    sample.thumbnail((_SAMPLE_SIDE, _SAMPLE_SIDE))
    quantized = sample.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    colours = quantized.getpalette()[: 3 * count]
    counts = sorted(quantized.getcolors() or [], reverse=True)
    total = sum(n for n, _ in counts) or 1
    found = []
    for n, index in counts:
        rgb = tuple(colours[3 * index : 3 * index + 3])
        found.append(
            {
                "hex": "#{:02x}{:02x}{:02x}".format(*rgb),
                "name": colour_name(rgb),
                "share": round(n / total, 3),
            }
        )
    return found


def tone(image: Image.Image) -> dict:
    """Brightness (mean luminance) and contrast (its standard deviation), both 0–100."""
    stat = ImageStat.Stat(image.convert("L"))
    return {"brightness": round(stat.mean[0] / 2.55, 1), "contrast": round(stat.stddev[0] / 1.28, 1)}


def measure(original: bytes, region: dict | None) -> dict:
    """Every figure the inspector reports, as data (kept in the embed's content too)."""
    image = open_untrusted(original).convert("RGB")
    size = image.size
    figures: dict = {"width": size[0], "height": size[1], "palette": palette(image), "tone": tone(image)}
    if region is not None:
        box = bounding_box(region, size, pad=0)
        part = image.crop((box.left, box.top, box.right, box.bottom))
        figures["region"] = {"box": box.as_dict(), "palette": palette(part, 3), "tone": tone(part)}
    return figures


def _compare(region: float, whole: float, more: str, less: str) -> str:
    difference = region - whole
    if abs(difference) < 5:
        return "about the same as the rest"
    return f"{more if difference > 0 else less} than the image as a whole ({region:.0f} vs {whole:.0f})"


def _provenance(facts: dict) -> str:
    source = facts.get("source")
    if facts.get("ai_made"):
        model = facts.get("ai_model")
        made = f"made with AI ({model})" if model else "made with AI"
        extra = " and then drawn on or combined with other content" if facts.get("composite") else ""
        return (
            f"Provenance: this image is labelled as {made}{extra}; its files carry that label "
            "(IPTC and C2PA)."
        )
    if source == "upload":
        return (
            "Provenance: this image was uploaded; nothing recorded says it was made with AI "
            "(its metadata was removed on upload)."
        )
    return "Provenance: nothing recorded says this image was made with AI."


def compose(figures: dict, facts: dict, region: dict | None) -> list[str]:
    """The answer, paragraph by paragraph, from the figures."""
    width, height = figures["width"], figures["height"]
    divisor = math.gcd(width, height) or 1
    colours = ", ".join(f"{c['name']} {c['hex']} ({c['share']:.0%})" for c in figures["palette"])
    whole = figures["tone"]
    paragraphs = [
        VISION_NEEDED,
        f"Size: {width}×{height} pixels ({width * height / 1e6:.1f} megapixels, aspect {width // divisor}:"
        f"{height // divisor}). Main colours: {colours}. Brightness {whole['brightness']:.0f}/100, "
        f"contrast {whole['contrast']:.0f}/100.",
    ]
    if region is not None and "region" in figures:
        part = figures["region"]
        box = part["box"]
        drawn = " ".join(describe_shapes(region, (width, height)))
        paragraphs.append(
            f"What you marked: {drawn} The marked area ({box['width']}×{box['height']} px at x={box['x']}, "
            f"y={box['y']}) is mostly {', '.join(c['name'] for c in part['palette'])}; it is "
            f"{_compare(part['tone']['brightness'], whole['brightness'], 'brighter', 'darker')}, and its "
            f"contrast is {_compare(part['tone']['contrast'], whole['contrast'], 'higher', 'lower')}."
        )
    paragraphs.append(_provenance(facts))
    return paragraphs


class OfflineAnalyzer:
    name = "offline"

    def analyze(
        self,
        request: AnalysisRequest,
        *,
        on_text: Callable[[str], None],
        is_cancelled: Callable[[], bool],
    ) -> AnalysisResult:
        figures = measure(request.original, request.region)
        text = ""
        for paragraph in compose(figures, request.facts, request.region):
            if is_cancelled():
                raise Cancelled()
            text = f"{text}\n\n{paragraph}" if text else paragraph
            on_text(text)
        return AnalysisResult(
            answer=text, model_version="inspector-1", finish_reason="STOP", measurements=figures
        )
