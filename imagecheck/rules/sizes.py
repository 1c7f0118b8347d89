"""Sizes as messages and reports show them: in the units `docker images` lists and
images.yaml's `size` budgets are written in (decimal: 1 GB = 10^9 bytes)."""
from __future__ import annotations

GB, MB, KB = 10 ** 9, 10 ** 6, 10 ** 3


def human(size: int | float | None) -> str:
    """'6.35 GB', '312.4 MB', '9.1 kB', '205 B' ('–' when unknown)."""
    if size is None:
        return "–"
    value = float(size)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, scale, digits in (("GB", GB, 2), ("MB", MB, 1), ("kB", KB, 1)):
        if value >= scale:
            return f"{sign}{value / scale:.{digits}f} {unit}"
    return f"{sign}{int(value)} B"


def signed(size: int | float) -> str:
    """A growth: '+1.20 GB', '-4.1 kB', '0 B'."""
    return ("+" if size > 0 else "") + human(size)


def share(part: float, whole: float) -> str:
    """'12.3 %' of whole (whole 0: '–')."""
    return f"{100.0 * part / whole:.1f} %" if whole else "–"


def number(value: float) -> str:
    """A budget as images.yaml writes it: 16.0 -> '16', 6.5 -> '6.5'."""
    return f"{value:g}"
