"""Sizes as images.yaml writes them (docker's: 512m, 7g, binary units) and as messages
show them (5.92 GiB)."""
from __future__ import annotations

import re

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([bkmg]?)b?", re.IGNORECASE)


def parse(text: str) -> int:
    """Bytes of a docker size ('7g' -> 7516192768, '512mb', '0'); ValueError for other text
    (images.yaml's loader refuses it before any check)."""
    match = _SIZE.fullmatch(str(text).strip())
    if match is None:
        raise ValueError(f"not a docker size: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def human(size: int | float | None) -> str:
    """Bytes in binary units, as the budgets are written: '5.92 GiB', '312.4 MiB', '205 B'."""
    if size is None:
        return "–"
    value = float(size)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= scale:
            return f"{sign}{value / scale:.2f} {unit}" if unit == "GiB" else f"{sign}{value / scale:.1f} {unit}"
    return f"{sign}{int(value)} B"


def signed(size: int | float) -> str:
    """A growth: '+1.20 GiB', '-4.0 KiB', '0 B'."""
    return ("+" if size > 0 else "") + human(size)


def share(part: float, whole: float) -> str:
    """'12.3 %' of whole (whole 0: '–')."""
    return f"{100.0 * part / whole:.1f} %" if whole else "–"
