"""The DataLoader runs of an image, begun beside the facts probe (the DataLoader check's
companion, once per image): the dataloader probe with the run options images.yaml
documents (in the shared container) and, at the same time, without them (a container of
its own: Docker's default 64 MB /dev/shm). Their throughput is evidence measured beside
other work, never judged; the check judges whether each run worked (rules/shm.py)."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..rules import shm
from . import probes

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

RUNS = "dataloader-runs"


@dataclass(frozen=True)
class DataLoaderRuns:
    """The run with the documented options, the run without them (None when images.yaml
    documents none: the two would be the same run), and the documented flags."""

    documented: dict
    default: dict | None
    documented_flags: str | None


def args(image: "ImageUnderTest") -> str:
    spec = image.spec.dataloader
    return json.dumps({"num_workers": spec.num_workers, "batch_size": spec.batch_size,
                       "sample_mib": spec.sample_mib, "batches": spec.batches,
                       "timeout": max(20, min(60, image.spec.timeouts.dataloader // 5))})


def without_documented_options(image: "ImageUnderTest", role: str, **options) -> dict:
    """The dataloader probe in a container of its own, started without the documented run
    options (Docker's default 64 MB /dev/shm unless options say otherwise)."""
    with image.probe_container(role, documented_options=False, **options) as container:
        return probes.run(container, "dataloader", [args(image)], timeout=image.spec.timeouts.dataloader).data


def _both(image: "ImageUnderTest") -> DataLoaderRuns:
    flags = shm.documented_option(image.spec.run_options)
    with ThreadPoolExecutor(max_workers=2) as both:  # at once: each is judged, neither is timed
        documented = both.submit(lambda: image.probe("dataloader", args(image),
                                                     timeout=image.spec.timeouts.dataloader).data)
        default = both.submit(without_documented_options, image, "dataloader-default") if flags else None
        return DataLoaderRuns(documented.result(), default.result() if default is not None else None, flags)


def start(image: "ImageUnderTest") -> None:
    """Begin both runs in the background (once per image)."""
    image.memo.start(RUNS, lambda: _both(image))


def result(image: "ImageUnderTest") -> DataLoaderRuns:
    """Both runs (begun now if no one began them); their failure is kept."""
    start(image)
    return image.memo.result(RUNS)
