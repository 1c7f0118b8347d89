"""Fact companions: probes of other read-only facts that start beside the facts probe, so
both run at once, each once per image. One table, by the marker that the checks needing
them carry; the plugin tells each image which markers its selected checks carry
(ImageUnderTest.companions), so a run that selects none of them starts none."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from . import filesystem_walk

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

FACT_COMPANIONS: dict[str, Callable[["ImageUnderTest"], None]] = {
    "filesystem_walk": filesystem_walk.start,   # the root filesystem walk (setuid files, secrets in files)
}


def start(image: "ImageUnderTest", markers: set[str]) -> None:
    """Start the companions these markers name (each once per image)."""
    for marker in sorted(markers & FACT_COMPANIONS.keys()):
        FACT_COMPANIONS[marker](image)
