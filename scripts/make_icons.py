"""Draw SafeHarbor's app icons (a white shield with two harbour waves on the brand blue) and
write them as PNG files into webapp/static/icons/.

Standard library only: each pixel's colour comes from 4x4 samples of the shapes below (smooth
edges), and the PNG is written by hand with zlib and struct. Run it again after changing a
shape or colour; the output is deterministic, so unchanged icons keep their bytes (and the
service worker's shell version).

    .venv/bin/python scripts/make_icons.py
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "webapp" / "static" / "icons"

BRAND = (0x0A, 0x58, 0xA8)  # app.css --primary (light scheme)
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # per axis: 16 samples per pixel


@dataclass(frozen=True)
class Layout:
    """One icon: its size, how the background is cut, and how tall the shield stands.

    `corner` is the background's corner radius as a share of the size (0: a full-bleed square,
    as maskable and Apple icons need; the platform applies its own mask). `shield` is the
    shield's height as a share of the size.
    """

    file: str
    size: int
    corner: float
    shield: float


# NOTE: a maskable icon's platform mask may keep only the circle of radius 40 % around the
# centre (the "safe zone"); the maskable shield (height 0.54, width 0.44) has its farthest
# corner 0.35 from the centre, inside it.
LAYOUTS = (
    Layout("icon-192.png", 192, corner=0.18, shield=0.66),
    Layout("icon-512.png", 512, corner=0.18, shield=0.66),
    Layout("maskable-192.png", 192, corner=0.0, shield=0.54),
    Layout("maskable-512.png", 512, corner=0.0, shield=0.54),
    Layout("apple-touch-icon.png", 180, corner=0.0, shield=0.58),
    Layout("favicon-32.png", 32, corner=0.18, shield=0.74),
)

SHIELD_ASPECT = 0.82  # width / height
SHOULDER = 0.42  # where the straight sides start curving to the point (share of the height)


def in_rounded_square(x: float, y: float, radius: float) -> bool:
    """(x, y) in the unit square with corners rounded to `radius`."""
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        return False
    if radius <= 0:
        return True
    dx = max(radius - x, 0.0, x - (1.0 - radius))
    dy = max(radius - y, 0.0, y - (1.0 - radius))
    return dx * dx + dy * dy <= radius * radius


def shield_half_width(v: float) -> float:
    """Half the shield's width (as a share of its full half-width) at height v in [0, 1]."""
    if v < 0.0 or v > 1.0:
        return -1.0
    if v <= SHOULDER:
        return 1.0
    t = (v - SHOULDER) / (1.0 - SHOULDER)
    return 1.0 - t ** 1.7  # bulging sides meeting in a point


def in_shield(u: float, v: float) -> bool:
    """Shield-local coordinates: u in [-1, 1] across, v in [0, 1] from top to point."""
    half = shield_half_width(v)
    if half < 0 or abs(u) > half:
        return False
    # Rounded top corners.
    corner = 0.22
    if v < corner * SHIELD_ASPECT and abs(u) > 1.0 - corner:
        du = abs(u) - (1.0 - corner)
        dv = (corner * SHIELD_ASPECT - v) / SHIELD_ASPECT
        return du * du + dv * dv <= corner * corner
    return True


def on_wave(u: float, v: float) -> bool:
    """Two harbour waves across the shield's lower half."""
    for centre in (0.50, 0.66):
        crest = centre + 0.035 * math.sin(u * math.pi * 2.0)
        if abs(v - crest) < 0.045:
            return True
    return False


def colour_at(x: float, y: float, layout: Layout) -> tuple[int, int, int, int]:
    """The colour of the point (x, y) of the unit square, alpha included."""
    if not in_rounded_square(x, y, layout.corner):
        return (0, 0, 0, 0)
    height = layout.shield
    width = height * SHIELD_ASPECT
    top = 0.5 - height / 2 + height * 0.02  # optical centre: the point looks lighter
    u = (x - 0.5) / (width / 2)
    v = (y - top) / height
    if in_shield(u, v) and not on_wave(u, v):
        return (*WHITE, 255)
    return (*BRAND, 255)


def render(layout: Layout) -> bytes:
    """Raw RGBA rows, each led by PNG filter byte 0."""
    size = layout.size
    step = 1.0 / (size * SAMPLES)
    rows = bytearray()
    for py in range(size):
        rows.append(0)
        for px in range(size):
            totals = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                y = (py * SAMPLES + sy + 0.5) * step
                for sx in range(SAMPLES):
                    x = (px * SAMPLES + sx + 0.5) * step
                    r, g, b, a = colour_at(x, y, layout)
                    totals[0] += r * a
                    totals[1] += g * a
                    totals[2] += b * a
                    totals[3] += a
            alpha = totals[3]
            count = SAMPLES * SAMPLES
            if alpha == 0:
                rows += b"\x00\x00\x00\x00"
            else:
                rows += bytes((round(totals[0] / alpha), round(totals[1] / alpha),
                               round(totals[2] / alpha), round(alpha / count)))
    return bytes(rows)


def png(width: int, height: int, rgba_rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rgba_rows, 9)) + chunk(b"IEND", b""))


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for layout in LAYOUTS:
        data = png(layout.size, layout.size, render(layout))
        (ICONS / layout.file).write_bytes(data)
        print(f"{layout.file}: {layout.size}x{layout.size}, {len(data):,} bytes")


if __name__ == "__main__":
    main()
