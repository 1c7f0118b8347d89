"""Read the pixels of a PNG screenshot with the standard library (8-bit RGB or RGBA,
not interlaced: what headless Chromium writes)."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path


class Png:
    """Pixels of the first `rows` rows of a PNG: png.pixel(x, y) -> (r, g, b)."""

    def __init__(self, path: Path, rows: int | None = None) -> None:
        data = Path(path).read_bytes()
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError(f"{path} is not a PNG")
        offset, chunks = 8, []
        while offset < len(data):
            length, kind = struct.unpack(">I4s", data[offset:offset + 8])
            body = data[offset + 8:offset + 8 + length]
            if kind == b"IHDR":
                self.width, self.height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
                if depth != 8 or color not in (2, 6) or interlace:
                    raise ValueError(f"{path}: only 8-bit RGB/RGBA, non-interlaced PNGs are read here")
                self.channels = 3 if color == 2 else 4
            elif kind == b"IDAT":
                chunks.append(body)
            offset += 12 + length
        raw = zlib.decompress(b"".join(chunks))
        stride = self.width * self.channels
        self.rows: list[bytes] = []
        previous = bytearray(stride)
        for y in range(min(self.height, rows or self.height)):
            start = y * (stride + 1)
            kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
            self.rows.append(bytes(_unfilter(kind, line, previous, self.channels)))
            previous = line
        self.height_read = len(self.rows)

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        row = self.rows[y]
        i = x * self.channels
        return row[i], row[i + 1], row[i + 2]


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> bytearray:
    if kind == 0:
        return line
    if kind == 2:
        for i in range(len(line)):
            line[i] = (line[i] + previous[i]) & 0xFF
        return line
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
        elif kind == 4:
            corner = previous[i - bpp] if i >= bpp else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
            line[i] = (line[i] + predictor) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter {kind}")
    return line
