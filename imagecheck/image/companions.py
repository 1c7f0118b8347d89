"""Companions: work that starts beside the facts probe, in the background, each once per
image: probes of other read-only facts (the root filesystem walk) and the heavy work no
figure is measured on (the derived image, the run under an arbitrary uid). One table, by
the marker that the checks needing them carry; the plugin tells each image which markers
its selected checks carry (ImageUnderTest.companions), so a run that selects none of them
starts none. A check that measures performance first waits for them all (quiet()), so
nothing of the image's own runs beside its figures."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from . import arbitrary_uid, derived, filesystem_walk

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

FACT_COMPANIONS: dict[str, Callable[["ImageUnderTest"], None]] = {
    "filesystem_walk": filesystem_walk.start,   # the root filesystem walk (setuid files, secrets in files)
    "derived_image": derived.start,             # FROM the image, pip install one wheel, commit
    "arbitrary_uid": arbitrary_uid.start,       # the image's entrypoint under --user 12345:0
}
BACKGROUND_KEYS = (("probe", "filesystem"), derived.BUILT, arbitrary_uid.RUN)


def start(image: "ImageUnderTest", markers: set[str]) -> None:
    """Start the companions these markers name (each once per image)."""
    for marker in sorted(markers & FACT_COMPANIONS.keys()):
        FACT_COMPANIONS[marker](image)


def quiet(image: "ImageUnderTest") -> None:
    """Wait until every companion started for the image has ended (its outcome is its
    checks' to report), so a figure measured next has the machine to itself."""
    for key in BACKGROUND_KEYS:
        image.memo.wait(key)
