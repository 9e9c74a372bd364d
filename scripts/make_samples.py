"""Draw the sample images bundled in ``kontext_widgets/samples/`` with Pillow.

Everything is drawn from code (no fonts, no photos, no randomness beyond a fixed
seed), so the images belong to the project and are released under CC0.

    python scripts/make_samples.py              # rewrite kontext_widgets/samples/*.png
    python scripts/make_samples.py --out DIR    # write them somewhere else

Shapes are drawn at ``SCALE`` times the final size and then reduced, which gives
smooth edges; the result is stored as a 256-colour PNG to stay small.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, PngImagePlugin

SCALE = 4
OUT_DIR = Path(__file__).resolve().parent.parent / "kontext_widgets" / "samples"

Point = tuple[float, float]
RGB = tuple[int, int, int]
INK_HEX = "#2b2b34"
INK: RGB = (43, 43, 52)


def hex_rgb(value: str) -> RGB:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


class Canvas:
    """A supersampled RGB canvas addressed in final-size coordinates."""

    def __init__(self, width: int, height: int, background: str) -> None:
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width * SCALE, height * SCALE), hex_rgb(background))
        self.draw = ImageDraw.Draw(self.image)

    @staticmethod
    def s(value: float) -> int:
        return round(value * SCALE)

    def pts(self, points: Sequence[Point]) -> list[tuple[int, int]]:
        return [(self.s(x), self.s(y)) for x, y in points]

    def box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        return (self.s(x0), self.s(y0), self.s(x1), self.s(y1))

    def ellipse(
        self, box: tuple[float, float, float, float], fill: str, outline: float = 0.0
    ) -> None:
        if outline:
            x0, y0, x1, y1 = box
            self.draw.ellipse(self.box(x0 - outline, y0 - outline, x1 + outline, y1 + outline), INK)
        self.draw.ellipse(self.box(*box), hex_rgb(fill))

    def polygon(self, points: Sequence[Point], fill: str, outline: float = 0.0) -> None:
        self.draw.polygon(self.pts(points), fill=hex_rgb(fill))
        if outline:
            self.line([*points, points[0]], INK, outline)

    def line(self, points: Sequence[Point], colour: RGB | str, width: float) -> None:
        rgb = hex_rgb(colour) if isinstance(colour, str) else colour
        w = self.s(width)
        self.draw.line(self.pts(points), fill=rgb, width=w, joint="curve")
        for x, y in (points[0], points[-1]):  # round caps
            r = w / 2
            self.draw.ellipse((self.s(x) - r, self.s(y) - r, self.s(x) + r, self.s(y) + r), rgb)

    def capsule(self, points: Sequence[Point], width: float, fill: str, outline: float) -> None:
        """A thick stroke with round ends and an ink outline (arms, legs)."""
        self.line(points, INK, width + 2 * outline)
        self.line(points, fill, width)

    def rounded(
        self, box: tuple[float, float, float, float], radius: float, fill: str, outline: float
    ) -> None:
        x0, y0, x1, y1 = box
        if outline:
            self.draw.rounded_rectangle(
                self.box(x0 - outline, y0 - outline, x1 + outline, y1 + outline),
                self.s(radius + outline),
                fill=INK,
            )
        self.draw.rounded_rectangle(self.box(*box), self.s(radius), fill=hex_rgb(fill))

    def clipped(self, shape: Sequence[Point], paint: Callable[[Canvas], None]) -> None:
        """Run ``paint`` on a layer that only shows inside ``shape``."""
        layer = Canvas(self.width, self.height, "#000000")
        layer.image.paste(self.image)
        paint(layer)
        mask = Image.new("L", self.image.size, 0)
        ImageDraw.Draw(mask).polygon(self.pts(shape), fill=255)
        self.image.paste(layer.image, (0, 0), mask)

    def finish(self) -> Image.Image:
        small = self.image.resize((self.width, self.height), Image.Resampling.LANCZOS)
        return small.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def bezier(p0: Point, p1: Point, p2: Point, p3: Point, n: int = 24) -> list[Point]:
    out = []
    for i in range(n + 1):
        t = i / n
        a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
        out.append(
            (
                a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1],
            )
        )
    return out


def vertical_gradient(c: Canvas, y0: float, y1: float, top: str, bottom: str) -> None:
    t_rgb, b_rgb = hex_rgb(top), hex_rgb(bottom)
    rows = c.s(y1) - c.s(y0)
    for i in range(rows):
        t = i / max(rows - 1, 1)
        rgb = tuple(round(a + (b - a) * t) for a, b in zip(t_rgb, b_rgb, strict=True))
        y = c.s(y0) + i
        c.draw.line([(0, y), (c.image.width, y)], fill=rgb)


# --------------------------------------------------------------------------- person


def person() -> Image.Image:
    """A smiling cartoon woman standing in socks on a plain pale-blue background."""
    c = Canvas(384, 512, "#e9f1f7")
    skin, hair, shirt, jeans, sock = "#f3c6a2", "#5b3722", "#2a9d8f", "#35598f", "#f4f4f4"
    ow = 2.5

    c.ellipse((104, 458, 280, 490), "#d4e1eb")  # floor shadow
    c.rounded((134, 66, 250, 214), 52, hair, ow)  # long hair, behind everything

    # legs and feet
    c.capsule([(170, 336), (166, 452)], 38, jeans, ow)
    c.capsule([(214, 336), (218, 452)], 38, jeans, ow)
    c.ellipse((130, 446, 180, 474), sock, ow)
    c.ellipse((204, 446, 254, 474), sock, ow)
    c.rounded((146, 318, 238, 360), 14, jeans, ow)  # hips

    # arms (behind the shirt), sleeves and hands
    for sign in (-1, 1):
        sx = 192 + sign * 52
        c.capsule([(sx, 206), (sx + sign * 18, 268), (sx + sign * 20, 318)], 22, skin, ow)
        c.ellipse((sx + sign * 20 - 13, 312, sx + sign * 20 + 13, 340), skin, ow)
    c.rounded((136, 176, 248, 334), 30, shirt, ow)  # shirt
    for sign in (-1, 1):
        sx = 192 + sign * 52
        c.capsule([(sx, 200), (sx + sign * 12, 238)], 36, shirt, ow)
    c.rounded((139, 179, 245, 331), 28, shirt, 0)  # hide the sleeve seams

    # a yellow star on the shirt
    star = []
    for i in range(10):
        r = 22 if i % 2 == 0 else 9.5
        a = -math.pi / 2 + i * math.pi / 5
        star.append((192 + r * math.cos(a), 250 + r * math.sin(a)))
    c.polygon(star, "#ffd166", 1.5)

    # neck, ears, head
    c.rounded((178, 146, 206, 188), 8, skin, ow)
    c.ellipse((140, 100, 160, 128), skin, ow)
    c.ellipse((224, 100, 244, 128), skin, ow)
    c.ellipse((146, 62, 238, 164), skin, ow)

    # fringe: a chord over the top of the head
    c.draw.chord(c.box(142, 54, 242, 150), 180, 360, fill=hex_rgb(INK_HEX))
    c.draw.chord(c.box(144.5, 56.5, 239.5, 147.5), 180, 360, fill=hex_rgb(hair))
    c.polygon([(150, 100), (172, 96), (160, 112)], hair)  # side sweep

    # face
    for x in (174, 210):
        c.ellipse((x - 6, 110, x + 6, 124), "#2b2b34")
        c.ellipse((x - 2, 112, x + 2, 116), "#ffffff")
        c.ellipse((x - 14, 128, x - 2, 136) if x < 192 else (x + 2, 128, x + 14, 136), "#f4a3a0")
    c.draw.arc(c.box(178, 120, 206, 146), 25, 155, fill=hex_rgb("#8c3b2b"), width=c.s(2.5))
    return c.finish()


# --------------------------------------------------------------------------- shoes


def _sneaker(c: Canvas, ox: float, oy: float, k: float, shade: float) -> None:
    """One red sneaker facing right; ``shade`` < 1 darkens it (the back shoe)."""

    def t(points: Sequence[Point]) -> list[Point]:
        return [(ox + x * k, oy + y * k) for x, y in points]

    def tbox(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (ox + x0 * k, oy + y0 * k, ox + x1 * k, oy + y1 * k)

    def col(value: str) -> str:
        r, g, b = hex_rgb(value)
        return f"#{round(r * shade):02x}{round(g * shade):02x}{round(b * shade):02x}"

    heel = bezier((84, 270), (70, 230), (76, 186), (94, 164))
    collar = bezier((94, 164), (128, 152), (168, 176), (204, 172))
    tongue = bezier((204, 172), (206, 152), (222, 134), (246, 138))
    throat = bezier((246, 138), (300, 160), (346, 192), (384, 206))
    toe = bezier((384, 206), (436, 214), (466, 244), (456, 270))
    upper = t([*heel, *collar[1:], *tongue[1:], *throat[1:], *toe[1:]])

    def panels(layer: Canvas) -> None:
        layer.polygon(upper, col("#d8262b"))
        layer.ellipse(tbox(20, 150, 150, 330), col("#a3161b"))  # heel counter
        layer.ellipse(tbox(372, 214, 520, 330), col("#a3161b"))  # toe cap
        layer.line(
            t(bezier((118, 240), (200, 262), (276, 196), (372, 222))), col("#fafafa"), 13 * k
        )
        layer.line(t(collar), col("#6e1014"), 11 * k)  # padded collar
        layer.line(t(bezier((96, 176), (100, 210), (104, 240), (110, 262))), col("#8a1418"), 4 * k)

    c.clipped(upper, panels)
    c.line([*upper, upper[0]], INK, 2.5)

    # laces: short white bars crossing the top edge, with eyelets below it
    for i in range(6):
        j = 2 + i * 4
        (x0, y0), (x1, y1) = throat[j - 1], throat[j + 1]
        length = math.hypot(x1 - x0, y1 - y0)
        tx, ty = (x1 - x0) / length, (y1 - y0) / length  # along the edge
        nx, ny = -ty, tx  # into the shoe
        px, py = throat[j]
        eyelet = (px + nx * 15, py + ny * 15)
        c.line(t([(px - nx * 3 + tx * 8, py - ny * 3 + ty * 8), eyelet]), col("#fafafa"), 6 * k)
        c.ellipse(tbox(eyelet[0] - 3, eyelet[1] - 3, eyelet[0] + 3, eyelet[1] + 3), INK_HEX)

    # heel tab and sole
    c.rounded(tbox(84, 150, 100, 184), 5 * k, col("#fafafa"), 2)
    c.rounded(tbox(66, 262, 470, 298), 16 * k, col("#fbfbfb"), 2.5)
    c.line(t([(82, 286), (454, 286)]), col("#cfcfcf"), 3 * k)


def shoes() -> Image.Image:
    """A pair of red sneakers, side view, on a plain warm-grey background."""
    c = Canvas(512, 384, "#f5efe8")
    c.ellipse((150, 220, 496, 244), "#e6ddd2")  # shadow of the back shoe
    c.ellipse((40, 276, 460, 304), "#ddd2c5")  # shadow of the front shoe
    _sneaker(c, 112, -2, 0.8, 0.8)
    _sneaker(c, 6, 28, 0.88, 1.0)
    return c.finish()


# --------------------------------------------------------------------------- landscape


def landscape() -> Image.Image:
    """Mountains, a lake, green hills and pine trees under a morning sky."""
    c = Canvas(512, 384, "#ffffff")
    vertical_gradient(c, 0, 236, "#5ea7df", "#ffe2b6")

    # sun with a soft halo
    halo = Image.new("RGBA", c.image.size, (0, 0, 0, 0))
    hd = ImageDraw.Draw(halo)
    for r, a in ((62, 40), (48, 70)):
        hd.ellipse(c.box(382 - r, 112 - r, 382 + r, 112 + r), (255, 236, 170, a))
    c.image.paste(Image.alpha_composite(c.image.convert("RGBA"), halo).convert("RGB"))
    c.ellipse((348, 78, 416, 146), "#ffd35c")

    for cx, cy, k in ((104, 70, 1.0), (250, 46, 0.7), (470, 60, 0.6)):
        for dx, dy, r in ((0, 0, 22), (24, -10, 26), (52, 0, 20), (26, 8, 22)):
            x, y, rr = cx + dx * k, cy + dy * k, r * k
            c.ellipse((x - rr * 1.3, y - rr, x + rr * 1.3, y + rr), "#fdfdfd")

    far = [
        (0, 236), (0, 176), (52, 144), (104, 178), (172, 104), (232, 168), (292, 128),
        (346, 176), (420, 116), (474, 160), (512, 142), (512, 236),
    ]  # fmt: skip
    c.polygon(far, "#a3b8d6")
    for px, py in ((172, 104), (420, 116), (292, 128)):
        c.polygon(
            [(px, py), (px - 20, py + 22), (px - 8, py + 18), (px, py + 26), (px + 9, py + 17),
             (px + 19, py + 20)],
            "#f7f9fc",
        )  # fmt: skip
    near = [(0, 236), (0, 206), (70, 170), (132, 212), (206, 160), (268, 214), (330, 186),
            (396, 222), (460, 190), (512, 214), (512, 236)]  # fmt: skip
    c.polygon(near, "#7393bd")

    # lake with the sun's reflection
    vertical_gradient(c, 236, 300, "#79b3e0", "#3f7db3")
    for i, (w, y) in enumerate(((40, 244), (30, 254), (22, 264), (14, 274))):
        c.line([(382 - w, y), (382 + w, y)], "#ffe7a3" if i < 2 else "#d9e7c9", 2.5)
    c.line([(40, 258), (90, 258)], "#a7cdef", 2)
    c.line([(150, 282), (230, 282)], "#a7cdef", 2)

    # hills
    back_hill = [*bezier((0, 300), (120, 262), (260, 270), (512, 292)), (512, 384), (0, 384)]
    c.polygon(back_hill, "#86b86a")
    front = [*bezier((0, 326), (160, 296), (330, 322), (512, 314)), (512, 384), (0, 384)]
    c.polygon(front, "#4f8a3c")

    def pine(x: float, base: float, h: float) -> None:
        c.line([(x, base), (x, base - h * 0.25)], "#6b4226", h * 0.09)
        for i in range(3):
            top = base - h * (0.45 + 0.2 * i) - h * 0.3
            w = h * (0.38 - 0.08 * i)
            y = base - h * (0.18 + 0.22 * i)
            c.polygon([(x - w, y), (x + w, y), (x, top)], "#2e5e2a")

    for x, base, h in ((48, 312, 70), (78, 318, 52), (440, 322, 80), (476, 320, 58)):
        pine(x, base, h)
    for x, base, h in ((236, 286, 30), (262, 288, 24), (160, 284, 26)):
        pine(x, base, h)

    rng = random.Random(7)  # noqa: S311 - a fixed seed for repeatable drawing, not security
    for _ in range(70):
        x, y = rng.uniform(6, 506), rng.uniform(340, 380)
        colour = rng.choice(("#ffd166", "#f7f7f7", "#ef8fb2", "#ffffff"))
        c.ellipse((x - 2, y - 2, x + 2, y + 2), colour)
    return c.finish()


SAMPLES: dict[str, tuple[Callable[[], Image.Image], str]] = {
    "person": (person, "A cartoon woman standing in socks, plain background"),
    "shoes": (shoes, "A pair of red sneakers, side view, plain background"),
    "landscape": (landscape, "Mountains, a lake, hills and pine trees under a morning sky"),
}


def save(image: Image.Image, path: Path, description: str) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", description)
    info.add_text("Author", "the kontext-widgets project (scripts/make_samples.py)")
    info.add_text("Copyright", "CC0 1.0 Universal (public domain dedication)")
    image.save(path, format="PNG", optimize=True, pnginfo=info)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="directory to write into")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, (draw, description) in SAMPLES.items():
        target = out / f"{name}.png"
        save(draw(), target, description)
        print(f"{target}  {target.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
