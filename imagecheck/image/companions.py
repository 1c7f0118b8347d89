"""Companions: work that starts beside the facts probe, in the background, each once per
image: probes of other read-only facts (the root filesystem walk), the heavy work no
figure is judged on (the derived image, the run under an arbitrary uid, the SBOM, the
DataLoader runs, the ONNX export), and the compiles, whose timings wait for quiet(). One table, by
the marker that the checks needing them carry; the plugin tells each image which markers
its selected checks carry (ImageUnderTest.companions), so a run that selects none of them
starts none. A check that measures performance (marked `measures`, and so run after the
image's other checks) first waits for them all (quiet()), so nothing of the image's own
runs beside its figures."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from . import arbitrary_uid, compile_run, dataloader_runs, derived, filesystem_walk, onnx_run, sbom

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

FACT_COMPANIONS: dict[str, Callable[["ImageUnderTest"], None]] = {  # started in this order
    "filesystem_walk": filesystem_walk.start,   # the root filesystem walk (setuid files, secrets in files)
    "compiles": compile_run.start,              # torch.compile of the models, timed only at release()
    "dataloader": dataloader_runs.start,        # the DataLoader with and without the documented options
    "derived_image": derived.start,             # FROM the image, pip install one wheel, commit
    "arbitrary_uid": arbitrary_uid.start,       # the image's entrypoint under --user 12345:0
    "onnx": onnx_run.start,                     # torch.onnx.export at the promised opset
    "sbom": sbom.start,                         # syft reads the image through the engine (minutes, first time)
}
BACKGROUND_KEYS = (("probe", "filesystem"), ("probe", onnx_run.KEY), dataloader_runs.RUNS, derived.BUILT,
                   arbitrary_uid.RUN, sbom.SCAN)


def start(image: "ImageUnderTest", markers: set[str]) -> None:
    """Start the companions these markers name (each once per image), in the table's order."""
    for marker, begin in FACT_COMPANIONS.items():
        if marker in markers:
            begin(image)


def quiet(image: "ImageUnderTest") -> None:
    """Wait until every companion started for the image has ended (its outcome is its
    checks' to report), then let the compiles time their models and wait for them: a
    figure measured next has the machine to itself."""
    for key in BACKGROUND_KEYS:
        image.memo.wait(key)
    compile_run.release(image)
    image.memo.wait(compile_run.RUN)
