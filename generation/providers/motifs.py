"""The offline generator's subjects: a small vocabulary of vector motifs for common nouns (a cat,
a dog, a lighthouse, a car, an apple, a tree, a house, a boat, a flower, birds), drawn with
Pillow on the landscape and placed by the scene's composition (thirds, a foreground to stand
on, a contact shadow, lit by the time of day). Deterministic: every random choice comes from
the painter's seeded generator.

Why: what a new user sees first is the offline generator; "orange tabby cat" must show a cat.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter

Color = tuple[int, int, int]

# noun (singular) -> motif. Plurals are found by dropping a final "s".
NOUNS: dict[str, str] = {
    "cat": "cat",
    "kitten": "cat",
    "kitty": "cat",
    "tabby": "cat",
    "dog": "dog",
    "puppy": "dog",
    "lighthouse": "lighthouse",
    "car": "car",
    "automobile": "car",
    "apple": "apple",
    "tree": "tree",
    "oak": "tree",
    "house": "house",
    "cottage": "house",
    "cabin": "house",
    "home": "house",
    "boat": "boat",
    "sailboat": "boat",
    "ship": "boat",
    "flower": "flower",
    "rose": "flower",
    "tulip": "flower",
    "bird": "birds",
}
# A default colour per motif when the prompt names none.
DEFAULT_COLORS: dict[str, Color] = {
    "cat": (226, 132, 52),
    "dog": (150, 98, 56),
    "lighthouse": (214, 48, 52),
    "car": (204, 36, 44),
    "apple": (206, 34, 40),
    "tree": (58, 128, 62),
    "house": (226, 206, 170),
    "boat": (236, 236, 230),
    "flower": (232, 72, 120),
    "birds": (30, 30, 36),
}
# The scene a subject suggests when the prompt names none.
SUBJECT_SCENES: dict[str, tuple[str, ...]] = {
    "car": ("city", "desert"),
    "lighthouse": ("ocean",),
    "boat": ("ocean",),
    "cat": ("forest", "mountains"),
    "dog": ("forest", "mountains"),
    "house": ("forest", "mountains", "snow"),
    "tree": ("mountains",),
    "flower": ("mountains", "forest"),
    "apple": ("mountains", "forest"),
}


def subjects_in(words: list[str]) -> list[str]:
    """The motifs a prompt names, in order, each once (at most two on the ground, plus birds)."""
    found: list[str] = []
    for word in words:
        motif = NOUNS.get(word) or (NOUNS.get(word[:-1]) if word.endswith("s") else None)
        if motif and motif not in found:
            found.append(motif)
    ground = [m for m in found if m != "birds"][:2]
    return ground + (["birds"] if "birds" in found else [])


@dataclass
class Light:
    """How the scene lights a subject: ambient tint and brightness, the light's colour and side."""

    ambient: Color
    brightness: float
    light: Color
    from_left: bool
    night: bool

    def tone(self, color: Color, factor: float = 1.0) -> Color:
        lum = max(0.42, self.brightness) * factor
        mixed = _mix(color, self.ambient, 0.22)
        return tuple(max(0, min(255, round(c * lum))) for c in mixed)  # type: ignore[return-value]


def _mix(a: Color, b: Color, t: float) -> Color:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _rgba(color: Color, alpha: int = 255) -> tuple[int, int, int, int]:
    return (*color, alpha)


class MotifPainter:
    """Draws motifs on an RGB image (the painter's half-resolution canvas)."""

    def __init__(self, image: Image.Image, rng: random.Random, light: Light) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image, "RGBA")
        self.rng = rng
        self.light = light
        self.w, self.h = image.size

    # -- composition ----------------------------------------------------------------------------

    def stage(self, top: float, color: Color) -> None:
        """The foreground the subjects stand on: a gently curved band from ``top`` down."""
        rng = self.rng
        points = [(0, self.h + 1)]
        phase, amp = rng.uniform(0, math.tau), self.h * rng.uniform(0.004, 0.015)
        for i in range(33):
            x = self.w * i / 32
            points.append((x, top + amp * math.sin(phase + 3 * i / 32 * math.pi)))
        points.append((self.w, self.h + 1))
        self.draw.polygon(points, fill=_rgba(self.light.tone(color)))
        # Darker towards the bottom: depth.
        band = max(2, int(self.h - top))
        fade = Image.linear_gradient("L").resize((self.w, band)).point(lambda v: v * 90 // 255)
        self.image.paste(Image.new("RGB", (self.w, band), self.light.tone(color, 0.55)), (0, int(top)), fade)

    def shadow(self, cx: float, ground: float, width: float) -> None:
        layer = Image.new("L", self.image.size, 0)
        ImageDraw.Draw(layer).ellipse(
            (cx - width / 2, ground - width * 0.07, cx + width / 2, ground + width * 0.07), fill=120
        )
        layer = layer.filter(ImageFilter.GaussianBlur(max(1.0, width / 30)))
        self.image.paste(Image.new("RGB", self.image.size, (10, 10, 16)), (0, 0), layer)

    def paint(self, motif: str, cx: float, ground: float, size: float, color: Color) -> None:
        getattr(self, f"_{motif}")(cx, ground, size, color)

    # -- motifs ---------------------------------------------------------------------------------
    # Each takes (cx, ground, size, colour): centred at cx, standing on ``ground``, ``size`` tall.

    def _cat(self, cx: float, ground: float, size: float, color: Color) -> None:
        d, t = self.draw, self.light.tone
        fur, dark = t(color), t(color, 0.62)
        flip = -1 if self.rng.random() < 0.5 else 1
        self.shadow(cx, ground, size * 0.75)
        # tail: a thick curve round the body
        tail = [
            (
                cx + flip * (size * 0.25 + size * 0.2 * math.sin(a)),
                ground - size * 0.08 - size * 0.35 * (1 - math.cos(a)),
            )
            for a in (i * math.pi / 14 for i in range(12))
        ]
        d.line(tail, fill=_rgba(dark), width=max(2, int(size * 0.07)), joint="curve")
        # body (sitting): a pear of two ellipses
        d.ellipse((cx - size * 0.3, ground - size * 0.55, cx + size * 0.3, ground), fill=_rgba(fur))
        d.ellipse(
            (cx - size * 0.22, ground - size * 0.72, cx + size * 0.22, ground - size * 0.3), fill=_rgba(fur)
        )
        # front legs and paws
        for side in (-1, 1):
            x = cx + side * size * 0.09
            d.rounded_rectangle(
                (x - size * 0.05, ground - size * 0.35, x + size * 0.05, ground),
                radius=size * 0.04,
                fill=_rgba(fur),
            )
            d.ellipse(
                (x - size * 0.065, ground - size * 0.05, x + size * 0.065, ground + size * 0.01),
                fill=_rgba(fur),
            )
        # tabby stripes on the flanks
        for i in range(4):
            y = ground - size * (0.2 + 0.1 * i)
            d.arc(
                (cx - size * 0.3, y - size * 0.06, cx - size * 0.12, y + size * 0.06),
                200,
                340,
                fill=_rgba(dark),
                width=max(1, int(size * 0.025)),
            )
            d.arc(
                (cx + size * 0.12, y - size * 0.06, cx + size * 0.3, y + size * 0.06),
                200,
                340,
                fill=_rgba(dark),
                width=max(1, int(size * 0.025)),
            )
        # head
        hx, hy, hr = cx, ground - size * 0.8, size * 0.19
        for side in (-1, 1):  # ears
            d.polygon(
                [
                    (hx + side * hr * 0.95, hy - hr * 0.15),
                    (hx + side * hr * 0.75, hy - hr * 1.45),
                    (hx + side * hr * 0.2, hy - hr * 0.8),
                ],
                fill=_rgba(fur),
            )
            d.polygon(
                [
                    (hx + side * hr * 0.8, hy - hr * 0.35),
                    (hx + side * hr * 0.7, hy - hr * 1.15),
                    (hx + side * hr * 0.35, hy - hr * 0.75),
                ],
                fill=_rgba(t((236, 160, 160))),
            )
        d.ellipse((hx - hr * 1.05, hy - hr, hx + hr * 1.05, hy + hr * 0.9), fill=_rgba(fur))
        for i in (-1, 0, 1):  # forehead stripes
            d.line(
                (hx + i * hr * 0.25, hy - hr * 0.9, hx + i * hr * 0.18, hy - hr * 0.45),
                fill=_rgba(dark),
                width=max(1, int(size * 0.02)),
            )
        eye = (120, 200, 90) if not self.light.night else (200, 230, 120)
        for side in (-1, 1):
            ex = hx + side * hr * 0.42
            d.ellipse((ex - hr * 0.2, hy - hr * 0.15, ex + hr * 0.2, hy + hr * 0.2), fill=_rgba(eye))
            d.ellipse(
                (ex - hr * 0.06, hy - hr * 0.12, ex + hr * 0.06, hy + hr * 0.17), fill=(20, 20, 20, 255)
            )
        d.polygon(
            [(hx - hr * 0.1, hy + hr * 0.3), (hx + hr * 0.1, hy + hr * 0.3), (hx, hy + hr * 0.42)],
            fill=(220, 120, 130, 255),
        )
        for side in (-1, 1):  # whiskers
            for k in (-1, 0, 1):
                d.line(
                    (hx + side * hr * 0.3, hy + hr * 0.45, hx + side * hr * 1.4, hy + hr * (0.35 + 0.15 * k)),
                    fill=(240, 240, 240, 170),
                    width=1,
                )

    def _dog(self, cx: float, ground: float, size: float, color: Color) -> None:
        d, t = self.draw, self.light.tone
        fur, dark = t(color), t(color, 0.6)
        flip = -1 if self.rng.random() < 0.5 else 1
        length = size * 1.1
        self.shadow(cx, ground, length * 1.05)
        body_top, body_bottom = ground - size * 0.62, ground - size * 0.3
        # tail up at the back
        bx = cx - flip * length * 0.45
        d.line(
            [(bx, body_top + size * 0.08), (bx - flip * size * 0.18, body_top - size * 0.18)],
            fill=_rgba(fur),
            width=max(2, int(size * 0.07)),
        )
        # legs
        for x in (cx - length * 0.36, cx - length * 0.22, cx + length * 0.2, cx + length * 0.34):
            d.rounded_rectangle(
                (x - size * 0.055, body_bottom - size * 0.05, x + size * 0.055, ground),
                radius=size * 0.03,
                fill=_rgba(fur if x * flip > cx * flip else dark),
            )
        d.rounded_rectangle(
            (cx - length * 0.46, body_top, cx + length * 0.42, body_bottom),
            radius=size * 0.16,
            fill=_rgba(fur),
        )
        # head and snout at the front
        hx, hy = cx + flip * length * 0.46, body_top - size * 0.12
        d.ellipse((hx - size * 0.2, hy - size * 0.2, hx + size * 0.2, hy + size * 0.18), fill=_rgba(fur))
        d.ellipse(
            (
                hx + flip * size * 0.08 - size * 0.14,
                hy - size * 0.02,
                hx + flip * size * 0.08 + size * 0.16,
                hy + size * 0.16,
            ),
            fill=_rgba(t(color, 1.12)),
        )
        nose = hx + flip * size * 0.23
        d.ellipse(
            (nose - size * 0.05, hy - size * 0.01, nose + size * 0.05, hy + size * 0.07),
            fill=(25, 22, 22, 255),
        )
        ear = hx - flip * size * 0.1
        d.ellipse(
            (ear - size * 0.08, hy - size * 0.18, ear + size * 0.08, hy + size * 0.14), fill=_rgba(dark)
        )
        eye = hx + flip * size * 0.04
        d.ellipse(
            (eye - size * 0.03, hy - size * 0.09, eye + size * 0.03, hy - size * 0.03), fill=(20, 18, 18, 255)
        )

    def _lighthouse(self, cx: float, ground: float, size: float, color: Color) -> None:
        d, t = self.draw, self.light.tone
        # the rocky cliff it stands on: a jagged headland, lit on the light's side
        rng = self.rng
        rock = t((96, 90, 88), 0.9)
        left, right = cx - size * rng.uniform(0.55, 0.8), cx + size * rng.uniform(0.55, 0.8)
        top_edge = [
            (left + (right - left) * i / 10, ground - size * rng.uniform(-0.01, 0.03)) for i in range(11)
        ]
        points = [(left - size * 0.5, self.h + 1), (left - size * 0.15, ground + size * 0.25), *top_edge]
        points += [(right + size * 0.1, ground + size * 0.2), (right + size * 0.35, self.h + 1)]
        d.polygon(points, fill=_rgba(rock))
        for _ in range(9):  # cracks and ledges
            x = rng.uniform(left, right)
            y = ground + rng.uniform(0.05, 0.8) * (self.h - ground)
            d.line(
                (x, y, x + rng.uniform(-1, 1) * size * 0.25, y + size * 0.06),
                fill=_rgba(t((58, 54, 54))),
                width=1,
            )
        side = 1 if self.light.from_left else -1
        lit_face = [
            (cx, ground),
            (right if side < 0 else left, ground),
            (right + size * 0.3 if side < 0 else left - size * 0.45, self.h + 1),
            (cx, self.h + 1),
        ]
        d.polygon(lit_face, fill=(255, 255, 255, 18))
        base_w, top_w = size * 0.2, size * 0.13
        top = ground - size * 0.78
        bands = 5
        for i in range(bands):  # a tapered tower in red and white bands
            y0 = ground - (ground - top) * i / bands
            y1 = ground - (ground - top) * (i + 1) / bands
            w0 = base_w + (top_w - base_w) * i / bands
            w1 = base_w + (top_w - base_w) * (i + 1) / bands
            band = color if i % 2 == 0 else (240, 240, 236)
            d.polygon(
                [(cx - w0 / 2, y0), (cx + w0 / 2, y0), (cx + w1 / 2, y1), (cx - w1 / 2, y1)],
                fill=_rgba(t(band)),
            )
        shade = [
            (cx + base_w * 0.12, ground),
            (cx + base_w / 2, ground),
            (cx + top_w / 2, top),
            (cx + top_w * 0.12, top),
        ]
        d.polygon(shade, fill=(0, 0, 0, 50))
        d.rectangle(
            (cx - top_w * 0.75, top - size * 0.03, cx + top_w * 0.75, top), fill=_rgba(t((40, 40, 44)))
        )
        lantern = (255, 236, 150)
        lit = self.light.night or self.light.brightness < 0.85
        if lit:  # the beam
            side = 1 if self.rng.random() < 0.5 else -1
            beam = [
                (cx, top - size * 0.08),
                (cx + side * self.w * 0.9, top - size * 0.3),
                (cx + side * self.w * 0.9, top + size * 0.12),
            ]
            layer = Image.new("L", self.image.size, 0)
            ImageDraw.Draw(layer).polygon(beam, fill=70)
            layer = layer.filter(ImageFilter.GaussianBlur(max(1.0, size * 0.03)))
            self.image.paste(Image.new("RGB", self.image.size, lantern), (0, 0), layer)
        d.rectangle(
            (cx - top_w * 0.45, top - size * 0.14, cx + top_w * 0.45, top - size * 0.03),
            fill=_rgba(lantern if lit else t((200, 220, 230))),
        )
        d.polygon(
            [
                (cx - top_w * 0.6, top - size * 0.14),
                (cx + top_w * 0.6, top - size * 0.14),
                (cx, top - size * 0.22),
            ],
            fill=_rgba(t((40, 40, 44))),
        )
        d.rectangle(
            (cx - size * 0.025, ground - size * 0.12, cx + size * 0.025, ground), fill=_rgba(t((60, 40, 30)))
        )  # door

    def _car(self, cx: float, ground: float, size: float, color: Color) -> None:
        d, t = self.draw, self.light.tone
        length = size * 2.4
        paint, dark = t(color), t(color, 0.7)
        flip = -1 if self.rng.random() < 0.5 else 1
        self.shadow(cx, ground, length * 1.05)
        wheel_r = size * 0.2
        body_top, body_bottom = ground - size * 0.62, ground - size * 0.12
        cabin = [
            (cx - length * 0.3, body_top + 2),
            (cx - length * 0.16 * flip - length * 0.02, ground - size * 0.98),
            (cx + length * 0.12 * flip, ground - size * 0.98),
            (cx + length * 0.3 * flip, body_top + 2),
        ]
        d.polygon(cabin if flip == 1 else [(x, y) for x, y in cabin], fill=_rgba(dark))
        glass = t((70, 96, 120), 0.95)
        inset = [(x + (cx - x) * 0.12, y + (body_top - y) * 0.12 + 2) for x, y in cabin]
        d.polygon(inset, fill=_rgba(glass))
        d.line((cx, ground - size * 0.95, cx, body_top), fill=_rgba(dark), width=max(2, int(size * 0.05)))
        d.rounded_rectangle(
            (cx - length / 2, body_top, cx + length / 2, body_bottom), radius=size * 0.16, fill=_rgba(paint)
        )
        d.line(
            (cx - length * 0.45, body_top + size * 0.2, cx + length * 0.45, body_top + size * 0.2),
            fill=_rgba(t(color, 1.25)),
            width=max(1, int(size * 0.03)),
        )
        front = cx + flip * length * 0.47
        d.ellipse(
            (front - size * 0.06, body_top + size * 0.08, front + size * 0.06, body_top + size * 0.2),
            fill=(255, 240, 190, 255),
        )
        for x in (cx - length * 0.3, cx + length * 0.3):
            d.ellipse((x - wheel_r, ground - wheel_r * 2, x + wheel_r, ground), fill=(22, 22, 26, 255))
            d.ellipse(
                (x - wheel_r * 0.5, ground - wheel_r * 1.5, x + wheel_r * 0.5, ground - wheel_r * 0.5),
                fill=_rgba(t((180, 184, 190))),
            )

    def _apple(self, cx: float, ground: float, size: float, color: Color) -> None:
        d, t = self.draw, self.light.tone
        r = size * 0.5
        self.shadow(cx, ground, size * 1.1)
        skin, dark = t(color), t(color, 0.62)
        cy = ground - r
        # one round body with a dimple at the stem, shaded away from the light by a soft gradient
        shape = Image.new("L", self.image.size, 0)
        sd = ImageDraw.Draw(shape)
        sd.ellipse((cx - r * 1.02, cy - r * 0.92, cx + r * 0.12, cy + r), fill=255)
        sd.ellipse((cx - r * 0.12, cy - r * 0.92, cx + r * 1.02, cy + r), fill=255)
        sd.ellipse((cx - r * 0.8, cy - r * 0.75, cx + r * 0.8, cy + r * 0.98), fill=255)
        self.image.paste(Image.new("RGB", self.image.size, skin), (0, 0), shape)
        side = -1 if self.light.from_left else 1
        shade = Image.new("L", self.image.size, 0)
        ImageDraw.Draw(shade).ellipse(
            (cx + side * r * 0.5 - r * 0.9, cy - r * 0.6, cx + side * r * 0.5 + r * 0.9, cy + r * 1.3),
            fill=150,
        )
        shade = ImageChops.multiply(shade.filter(ImageFilter.GaussianBlur(r * 0.35)), shape)
        self.image.paste(Image.new("RGB", self.image.size, dark), (0, 0), shade)
        hx = cx - side * r * 0.45
        d.ellipse((hx - r * 0.18, cy - r * 0.6, hx + r * 0.18, cy - r * 0.2), fill=(255, 255, 255, 90))
        d.ellipse((cx - r * 0.16, cy - r * 0.98, cx + r * 0.16, cy - r * 0.78), fill=_rgba(dark))
        d.line(
            (cx, cy - r * 0.75, cx + r * 0.12, cy - r * 1.25),
            fill=_rgba(t((90, 60, 30))),
            width=max(2, int(size * 0.05)),
        )
        leaf = [
            (cx + r * 0.1, cy - r * 1.05),
            (cx + r * 0.45, cy - r * 1.4),
            (cx + r * 0.85, cy - r * 1.3),
            (cx + r * 0.5, cy - r * 1.0),
        ]
        d.polygon(leaf, fill=_rgba(t((70, 150, 60))))

    def _tree(self, cx: float, ground: float, size: float, color: Color) -> None:
        d, t = self.draw, self.light.tone
        self.shadow(cx, ground, size * 0.7)
        trunk = t((96, 66, 40))
        d.polygon(
            [
                (cx - size * 0.05, ground),
                (cx + size * 0.05, ground),
                (cx + size * 0.03, ground - size * 0.55),
                (cx - size * 0.03, ground - size * 0.55),
            ],
            fill=_rgba(trunk),
        )
        for side in (-1, 1):
            d.line(
                (cx, ground - size * 0.4, cx + side * size * 0.16, ground - size * 0.62),
                fill=_rgba(trunk),
                width=max(2, int(size * 0.025)),
            )
        rng = self.rng
        for i in range(14):
            a = rng.uniform(0, math.tau)
            dist = rng.uniform(0, 0.22) * size
            x, y = cx + math.cos(a) * dist * 1.2, ground - size * 0.68 + math.sin(a) * dist
            rr = size * rng.uniform(0.12, 0.2)
            shade = 0.7 + 0.5 * (i / 14)
            d.ellipse((x - rr, y - rr, x + rr, y + rr), fill=_rgba(t(color, shade)))

    def _house(self, cx: float, ground: float, size: float, color: Color) -> None:
        d, t = self.draw, self.light.tone
        wide = size * 1.2
        self.shadow(cx, ground, wide * 1.2)
        wall_top = ground - size * 0.55
        d.rectangle((cx - wide / 2, wall_top, cx + wide / 2, ground), fill=_rgba(t(color)))
        d.rectangle((cx + wide * 0.15, wall_top, cx + wide / 2, ground), fill=(0, 0, 0, 35))
        d.rectangle(
            (cx + wide * 0.22, ground - size * 1.02, cx + wide * 0.32, ground - size * 0.75),
            fill=_rgba(t((120, 70, 60))),
        )
        d.polygon(
            [(cx - wide * 0.6, wall_top + 1), (cx, ground - size), (cx + wide * 0.6, wall_top + 1)],
            fill=_rgba(t((150, 58, 48))),
        )
        lit = self.light.night or self.light.brightness < 0.7
        window = (255, 210, 120) if lit else t((170, 200, 225))
        for x in (cx - wide * 0.3, cx + wide * 0.18):
            d.rectangle(
                (x, wall_top + size * 0.12, x + wide * 0.14, wall_top + size * 0.28), fill=_rgba(window)
            )
            d.line(
                (x + wide * 0.07, wall_top + size * 0.12, x + wide * 0.07, wall_top + size * 0.28),
                fill=_rgba(t((80, 60, 50))),
                width=1,
            )
        d.rectangle(
            (cx - wide * 0.06, ground - size * 0.3, cx + wide * 0.06, ground), fill=_rgba(t((110, 70, 44)))
        )

    def _boat(self, cx: float, ground: float, size: float, color: Color) -> None:
        d, t = self.draw, self.light.tone
        length = size * 1.3
        d.polygon(
            [
                (cx - length / 2, ground - size * 0.2),
                (cx + length / 2, ground - size * 0.2),
                (cx + length * 0.36, ground),
                (cx - length * 0.36, ground),
            ],
            fill=_rgba(t((120, 60, 40))),
        )
        d.line(
            (cx, ground - size * 0.2, cx, ground - size * 1.1),
            fill=_rgba(t((70, 50, 40))),
            width=max(1, int(size * 0.03)),
        )
        d.polygon(
            [
                (cx + size * 0.03, ground - size * 1.08),
                (cx + length * 0.42, ground - size * 0.28),
                (cx + size * 0.03, ground - size * 0.28),
            ],
            fill=_rgba(t(color)),
        )
        d.polygon(
            [
                (cx - size * 0.03, ground - size * 0.9),
                (cx - length * 0.32, ground - size * 0.3),
                (cx - size * 0.03, ground - size * 0.3),
            ],
            fill=_rgba(t(color, 0.85)),
        )
        d.line(
            (cx - length * 0.45, ground + 2, cx + length * 0.45, ground + 2),
            fill=(255, 255, 255, 60),
            width=1,
        )

    def _flower(self, cx: float, ground: float, size: float, color: Color) -> None:
        d, t = self.draw, self.light.tone
        stem = t((60, 130, 60))
        d.line((cx, ground, cx, ground - size * 0.7), fill=_rgba(stem), width=max(2, int(size * 0.04)))
        d.ellipse((cx, ground - size * 0.4, cx + size * 0.22, ground - size * 0.3), fill=_rgba(stem))
        hx, hy, pr = cx, ground - size * 0.78, size * 0.13
        for i in range(6):
            a = i * math.tau / 6
            px, py = hx + math.cos(a) * pr * 1.1, hy + math.sin(a) * pr * 1.1
            d.ellipse((px - pr, py - pr, px + pr, py + pr), fill=_rgba(t(color)))
        d.ellipse((hx - pr * 0.7, hy - pr * 0.7, hx + pr * 0.7, hy + pr * 0.7), fill=_rgba(t((245, 200, 60))))

    def _birds(self, cx: float, ground: float, size: float, color: Color) -> None:
        d = self.draw
        rng = self.rng
        tone = self.light.tone(color, 0.8)
        for _ in range(rng.randint(3, 6)):
            x, y = cx + rng.uniform(-1, 1) * size * 2, ground + rng.uniform(-0.5, 0.5) * size
            span = size * rng.uniform(0.12, 0.22)
            d.line(
                [(x - span, y - span * 0.35), (x - span * 0.3, y - span * 0.1), (x, y + span * 0.12)],
                fill=_rgba(tone),
                width=max(1, int(span / 6)),
            )
            d.line(
                [(x, y + span * 0.12), (x + span * 0.3, y - span * 0.1), (x + span, y - span * 0.35)],
                fill=_rgba(tone),
                width=max(1, int(span / 6)),
            )
