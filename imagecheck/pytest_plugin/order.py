"""The order of an image's checks, by the markers they carry (pure logic).

An image's background work (its facts probe and the companions, image/companions.py)
begins as its first check begins. The checks that start the image's own services go
first: they mostly wait for a port to answer or a process to stop, so that wait overlaps
the background work. Then the checks that read only the facts, then the rest in their
modules' order (each waits for the background work it reads), and last the checks that
measure a figure (`measures`: they wait until the image's background work has ended)."""
from __future__ import annotations

from typing import Iterable

TIERS = ("services", "facts", "", "measures")  # "": every other check


def tier(markers: Iterable[str]) -> int:
    """The place of a check with these markers among its image's checks (0 runs first)."""
    names = set(markers)
    if "measures" in names:
        return TIERS.index("measures")
    for marker in ("services", "facts"):
        if marker in names:
            return TIERS.index(marker)
    return TIERS.index("")
