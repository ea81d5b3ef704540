"""The sample site's very large image, made on the fly rather than committed."""

from __future__ import annotations

import functools
import struct
import zlib

# 1600 x 600 RGB stored without compression: a valid PNG of about 2.9 MB, far above a lowered
# ARCHIVER_REQUISITE_MAX_BYTES and still quick to build and serve.
WIDTH = 1600
HEIGHT = 600


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


@functools.cache
def huge_png() -> bytes:
    """A deterministic panorama-like gradient PNG (the same bytes on every call and run)."""
    green = bytes(x * 255 // WIDTH for x in range(WIDTH))
    rows = []
    for y in range(HEIGHT):
        shade = 90 + y * 120 // HEIGHT
        pixels = bytearray(3 * WIDTH)
        pixels[0::3] = bytes((shade,)) * WIDTH
        pixels[1::3] = green.translate(bytes((i + y) % 256 for i in range(256)))
        pixels[2::3] = bytes((200 - shade // 2,)) * WIDTH
        rows.append(b"\x00" + pixels)  # filter type None
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(rows), 0)),
            _chunk(b"IEND", b""),
        )
    )
