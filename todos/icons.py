"""The app's icons, drawn here: a white check mark on the app's red, as PNG.

``png(size)`` returns the PNG bytes of a ``size`` x ``size`` icon. The mark stays
inside the middle 60% (the safe zone of a maskable icon, which a launcher may cut
to a circle), and the red fills the whole square. ``manage.py make_icons``
writes the sizes the web app manifest names into ``static/todos/icons/``; a test
checks that the files there are what this draws.
"""

import struct
import zlib

BACKGROUND = (0xB8, 0x3F, 0x45)  # the title's red in app.css
MARK = (0xFF, 0xFF, 0xFF)
SIZES = (192, 512)
# The check mark: two strokes through these points (fractions of the side).
STROKES = (((0.30, 0.53), (0.44, 0.67)), ((0.44, 0.67), (0.71, 0.37)))
HALF_WIDTH = 0.045


def _distance_to_segment(x, y, start, end):
    (ax, ay), (bx, by) = start, end
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    px, py = ax + t * dx - x, ay + t * dy - y
    return (px * px + py * py) ** 0.5


def _pixel(x, y, size):
    """The colour at pixel (x, y), with 4x4 samples for smooth edges."""
    inside = 0
    for sx in range(4):
        for sy in range(4):
            u, v = (x + (sx + 0.5) / 4) / size, (y + (sy + 0.5) / 4) / size
            if any(_distance_to_segment(u, v, a, b) <= HALF_WIDTH for a, b in STROKES):
                inside += 1
    share = inside / 16
    return bytes(
        round(back + (mark - back) * share)
        for back, mark in zip(BACKGROUND, MARK, strict=True)
    )


def png(size):
    """A ``size`` x ``size`` RGB PNG of the icon."""
    rows = b"".join(
        b"\x00" + b"".join(_pixel(x, y, size) for x in range(size)) for y in range(size)
    )

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def file_name(size):
    return f"icon-{size}.png"
