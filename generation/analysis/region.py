"""The area a user drew on an image: validated shapes, their bounding box, the annotated copy and
the close-up crop a vision model is shown, and a text-free description of the drawing.

Shapes are in the original image's pixels (what ``GET /v1/embeds/{id}/content`` reports as
``files.original``), so a region means the same thing whichever rendition the user drew on:

- ``{"type": "rectangle" | "ellipse", "x", "y", "width", "height"}`` (the ellipse fills the box);
- ``{"type": "arrow", "x1", "y1", "x2", "y2"}`` (it points at ``x2, y2``);
- ``{"type": "freehand", "points": [[x, y], ...]}`` (2 to 2000 points, a circling stroke).

Everything here is pure (bytes and numbers in, bytes and text out): no database, no provider.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw

from embeds.imaging.decode import open_untrusted

SHAPE_TYPES = ("rectangle", "ellipse", "arrow", "freehand")
MAX_SHAPES = 20
MAX_POINTS = 2000
# The region is shown as a close-up at full resolution when its padded box covers less than
# this share of the image: a larger one is already legible in the whole picture.
SMALL_REGION_SHARE = 0.25
# What a vision model gets at most per image side; larger images are scaled down (the crop keeps
# full resolution up to this size, which is the point of sending it).
MAX_SIDE = 2048
OUTLINE = (255, 59, 48)


class RegionError(ValueError):
    """A region that cannot be used; ``field`` names where in the request it went wrong."""

    def __init__(self, message: str, field: str = "region") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def as_dict(self) -> dict:
        return {"x": self.left, "y": self.top, "width": self.width, "height": self.height}


def _number(shape: dict, key: str, where: str) -> float:
    value = shape.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RegionError(f"{where}.{key} must be a number of pixels.", f"{where}.{key}")
    return float(value)


def _inside(x: float, y: float, size: tuple[int, int], where: str) -> None:
    width, height = size
    if not (0 <= x <= width and 0 <= y <= height):
        raise RegionError(
            f"{where} lies outside the image ({width}×{height} pixels; shapes are in its original pixels).",
            where,
        )


def _shape(raw: object, index: int, size: tuple[int, int]) -> dict:
    """One shape, checked and normalised (numbers rounded to whole pixels, boxes non-negative)."""
    where = f"region.shapes[{index}]"
    if not isinstance(raw, dict):
        raise RegionError(f"{where} must be an object.", where)
    kind = raw.get("type")
    if kind not in SHAPE_TYPES:
        raise RegionError(f"{where}.type must be one of {', '.join(SHAPE_TYPES)}.", f"{where}.type")
    allowed = {
        "rectangle": {"type", "x", "y", "width", "height"},
        "ellipse": {"type", "x", "y", "width", "height"},
        "arrow": {"type", "x1", "y1", "x2", "y2"},
        "freehand": {"type", "points"},
    }[kind]
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise RegionError(f"{where} has an unknown field {unknown[0]!r}.", f"{where}.{unknown[0]}")
    if kind in ("rectangle", "ellipse"):
        x, y = _number(raw, "x", where), _number(raw, "y", where)
        w, h = _number(raw, "width", where), _number(raw, "height", where)
        if w < 1 or h < 1:
            raise RegionError(f"{where} must be at least 1×1 pixels.", where)
        _inside(x, y, size, where)
        _inside(x + w, y + h, size, where)
        return {"type": kind, "x": round(x), "y": round(y), "width": round(w), "height": round(h)}
    if kind == "arrow":
        coords = [_number(raw, key, where) for key in ("x1", "y1", "x2", "y2")]
        _inside(coords[0], coords[1], size, where)
        _inside(coords[2], coords[3], size, where)
        return {"type": kind, **{k: round(v) for k, v in zip(("x1", "y1", "x2", "y2"), coords, strict=True)}}
    points = raw.get("points")
    if not isinstance(points, list) or not 2 <= len(points) <= MAX_POINTS:
        raise RegionError(
            f"{where}.points must be a list of 2 to {MAX_POINTS} [x, y] pairs.", f"{where}.points"
        )
    clean = []
    for point in points:
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise RegionError(f"{where}.points must be [x, y] pairs.", f"{where}.points")
        x, y = _number({"x": point[0]}, "x", where), _number({"y": point[1]}, "y", where)
        _inside(x, y, size, where)
        clean.append([round(x), round(y)])
    return {"type": kind, "points": clean}


def parse_region(raw: object, size: tuple[int, int]) -> dict | None:
    """``{"shapes": [...]}`` checked against an image of ``size`` (width, height); None for none.

    Raises RegionError with a message a user can act on (which shape, which field, the size)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise RegionError("region must be an object with a list of shapes.")
    unknown = sorted(set(raw) - {"shapes"})
    if unknown:
        raise RegionError(f"region has an unknown field {unknown[0]!r}.", f"region.{unknown[0]}")
    shapes = raw.get("shapes")
    if not isinstance(shapes, list) or not 1 <= len(shapes) <= MAX_SHAPES:
        raise RegionError(f"region.shapes must be a list of 1 to {MAX_SHAPES} shapes.", "region.shapes")
    return {"shapes": [_shape(shape, index, size) for index, shape in enumerate(shapes)]}


def _arrow_tip_box(shape: dict, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """What an arrow points at: a square around its tip, as large as a tenth of the image (or
    of the arrow, when longer), since the arrow itself is not the subject."""
    reach = max(min(size) * 0.1, math.dist((shape["x1"], shape["y1"]), (shape["x2"], shape["y2"])) * 0.5)
    x, y = shape["x2"], shape["y2"]
    return x - reach / 2, y - reach / 2, x + reach / 2, y + reach / 2


def bounding_box(region: dict, size: tuple[int, int], *, pad: float = 0.1) -> Box:
    """The area the shapes mark (an arrow marks its tip), padded by ``pad`` of its size for
    context and clipped to the image."""
    lefts, tops, rights, bottoms = [], [], [], []
    for shape in region["shapes"]:
        if shape["type"] in ("rectangle", "ellipse"):
            box = (shape["x"], shape["y"], shape["x"] + shape["width"], shape["y"] + shape["height"])
        elif shape["type"] == "arrow":
            box = _arrow_tip_box(shape, size)
        else:
            xs = [p[0] for p in shape["points"]]
            ys = [p[1] for p in shape["points"]]
            box = (min(xs), min(ys), max(xs), max(ys))
        lefts.append(box[0])
        tops.append(box[1])
        rights.append(box[2])
        bottoms.append(box[3])
    left, top, right, bottom = min(lefts), min(tops), max(rights), max(bottoms)
    dx, dy = max(4.0, (right - left) * pad), max(4.0, (bottom - top) * pad)
    width, height = size
    box = Box(
        max(0, math.floor(left - dx)),
        max(0, math.floor(top - dy)),
        min(width, math.ceil(right + dx)),
        min(height, math.ceil(bottom + dy)),
    )
    if box.width < 1 or box.height < 1:  # a degenerate drawing on an edge: keep one pixel
        return Box(min(box.left, width - 1), min(box.top, height - 1), max(box.right, 1), max(box.bottom, 1))
    return box


def is_small(box: Box, size: tuple[int, int]) -> bool:
    return box.width * box.height < SMALL_REGION_SHARE * size[0] * size[1]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")  # a fresh Pillow image: pixels only, no metadata
    return buffer.getvalue()


def _fit(image: Image.Image) -> tuple[Image.Image, float]:
    scale = min(1.0, MAX_SIDE / max(image.size))
    if scale < 1.0:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    return image, scale


def draw_shapes(image: Image.Image, region: dict, scale: float = 1.0) -> Image.Image:
    """A copy of ``image`` with the region's shapes outlined in red (scaled by ``scale``)."""
    annotated = image.convert("RGB")
    pen = ImageDraw.Draw(annotated)
    line = max(2, round(max(annotated.size) / 300))
    for shape in region["shapes"]:
        if shape["type"] in ("rectangle", "ellipse"):
            box = [
                shape["x"] * scale,
                shape["y"] * scale,
                (shape["x"] + shape["width"]) * scale,
                (shape["y"] + shape["height"]) * scale,
            ]
            (pen.rectangle if shape["type"] == "rectangle" else pen.ellipse)(box, outline=OUTLINE, width=line)
        elif shape["type"] == "arrow":
            x1, y1, x2, y2 = (shape[k] * scale for k in ("x1", "y1", "x2", "y2"))
            pen.line([x1, y1, x2, y2], fill=OUTLINE, width=line)
            angle = math.atan2(y2 - y1, x2 - x1)
            head = line * 6
            for side in (-0.4, 0.4):
                pen.line(
                    [x2, y2, x2 - head * math.cos(angle + side), y2 - head * math.sin(angle + side)],
                    fill=OUTLINE,
                    width=line,
                )
        else:
            pen.line(
                [(x * scale, y * scale) for x, y in shape["points"]], fill=OUTLINE, width=line, joint="curve"
            )
    return annotated


@dataclass(frozen=True)
class PreparedImages:
    """What leaves for a vision model: PNGs without metadata, and what they show."""

    image: bytes  # the whole image (annotated when there is a region), at most MAX_SIDE a side
    crop: bytes | None  # the region's close-up at full resolution, when the region is small
    box: Box | None  # the region's padded bounding box, in original pixels
    size: tuple[int, int]  # the original's width and height


def prepare_images(original: bytes, region: dict | None) -> PreparedImages:
    """Decode the (untrusted) original once and make the images a vision model is shown."""
    image = open_untrusted(original).convert("RGB")
    size = image.size
    whole, scale = _fit(image)
    if region is None:
        return PreparedImages(_png(whole), None, None, size)
    box = bounding_box(region, size)
    crop = None
    if is_small(box, size):
        close_up, _ = _fit(image.crop((box.left, box.top, box.right, box.bottom)))
        crop = _png(close_up)
    return PreparedImages(_png(draw_shapes(whole, region, scale)), crop, box, size)


def _where(x: float, y: float, size: tuple[int, int]) -> str:
    """ "the top left", "the centre"… of an image of ``size``, by thirds."""
    columns = ("left", "centre", "right")
    rows = ("top", "middle", "bottom")
    column = columns[min(2, int(3 * x / max(1, size[0])))]
    row = rows[min(2, int(3 * y / max(1, size[1])))]
    if (row, column) == ("middle", "centre"):
        return "the centre"
    if row == "middle":
        return f"the middle {column}"
    if column == "centre":
        return f"the {row} centre"
    return f"the {row} {column}"


def describe_shapes(region: dict, size: tuple[int, int]) -> list[str]:
    """One plain sentence per shape: what was drawn, where and how large (never any user text)."""
    area = size[0] * size[1]
    lines = []
    for shape in region["shapes"]:
        kind = shape["type"]
        if kind in ("rectangle", "ellipse"):
            cx, cy = shape["x"] + shape["width"] / 2, shape["y"] + shape["height"] / 2
            share = 100 * shape["width"] * shape["height"] / area
            name = "A rectangle" if kind == "rectangle" else "An ellipse"
            lines.append(
                f"{name} of {shape['width']}×{shape['height']} px at x={shape['x']}, y={shape['y']} "
                f"({share:.1f}% of the image) around {_where(cx, cy, size)}."
            )
        elif kind == "arrow":
            lines.append(
                f"An arrow from {_where(shape['x1'], shape['y1'], size)} pointing at x={shape['x2']}, "
                f"y={shape['y2']} in {_where(shape['x2'], shape['y2'], size)}."
            )
        else:
            xs = [p[0] for p in shape["points"]]
            ys = [p[1] for p in shape["points"]]
            closed = math.dist(shape["points"][0], shape["points"][-1]) < 0.2 * max(
                1, max(xs) - min(xs), max(ys) - min(ys)
            )
            what = "A closed freehand loop" if closed else "A freehand stroke"
            lines.append(
                f"{what} spanning {max(xs) - min(xs)}×{max(ys) - min(ys)} px from x={min(xs)}, y={min(ys)} "
                f"around {_where((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, size)}."
            )
    return lines
