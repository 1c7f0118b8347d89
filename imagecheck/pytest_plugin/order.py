"""The order of an image's checks, by the markers they carry (pure logic).

The checks that only read the facts go first: the most basic promises (versions, imports,
users) are judged within the facts probe's time, while the companions (image/companions.py),
begun with the image's first check, run in the background. Then the rest in their
modules' order (each waits for the background work it reads), and last the checks that
measure a figure (`measures`: they wait until the image's background work has ended)."""
from __future__ import annotations

from typing import Iterable

TIERS = ("facts", "", "measures")  # "": every other check


def tier(markers: Iterable[str]) -> int:
    """The place of a check with these markers among its image's checks (0 runs first)."""
    names = set(markers)
    if "measures" in names:
        return TIERS.index("measures")
    if "facts" in names:
        return TIERS.index("facts")
    return TIERS.index("")
