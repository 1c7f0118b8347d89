"""torch.compile of the image's torchvision models, begun beside the facts probe and timed
last (the compile checks' companion, once per image):

1. start(): the compile_models probe begins in the shared container at once: the models
   compile in parallel processes (rules/compile_plan.py) while the image's other checks
   run, so their compile times are measured beside other work, as they are beside each
   other;
2. the processes then wait at the probe's barrier for a go file;
3. release() (image.quiet(): after every other background task of the image has ended)
   writes the go file: the eager and compiled runs are timed one model at a time with
   nothing else of the image running, so the speedups stay honest.
On a host that grants a GPU the models are the image's compile.gpu_models on CUDA, else
its compile.cpu_models on CPU.
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ImagecheckError
from ..rules import compile_plan
from ..rules.compile_plan import CompilePlan
from . import probes

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

RUN = "compile-run"
PLANNED = "compile-planned"


@dataclass(frozen=True)
class PlannedCompile:
    """What the run compiles, on which device, how, and the folder its processes meet in."""

    device: str
    models: tuple[str, ...]
    plan: CompilePlan
    folder: str  # in the container; `go` in it starts the timings

    def args(self, image: "ImageUnderTest") -> dict[str, Any]:
        spec = image.spec.compile
        return {"models": list(self.models), "device": self.device, "batch_size": spec.batch_size,
                "parallel": self.plan.parallel, "compile_threads": self.plan.compile_threads,
                "steady_iterations": spec.steady_iterations, "atol": spec.atol, "rtol": spec.rtol,
                "folder": self.folder, "wait_for_go": True}


def planned(image: "ImageUnderTest") -> PlannedCompile:
    """The compile of this image, decided once: the device the host grants, its models."""
    def decide() -> PlannedCompile:
        device = "cuda" if image.gpu.granted else "cpu"
        spec = image.spec.compile
        models = tuple(spec.gpu_models if device == "cuda" else spec.cpu_models)
        return PlannedCompile(device, models, compile_plan.plan(len(models), os.cpu_count() or 1),
                              f"/tmp/imagecheck-compile-{uuid.uuid4().hex[:12]}")
    return image.shared(PLANNED, decide)


def start(image: "ImageUnderTest") -> None:
    """Begin compiling in the background (once per image), unless there is nothing to compile."""
    run = planned(image)
    if run.models:
        image.memo.start(RUN, lambda: image.probe("compile_models", json.dumps(run.args(image)),
                                                  timeout=image.spec.timeouts.compile).data)


def release(image: "ImageUnderTest") -> None:
    """Let a started run time its models (writes the go file; harmless when it ended)."""
    if not image.memo.started(RUN) or image.memo.finished(RUN):
        return
    folder = planned(image).folder
    write_go = "import os, sys; os.makedirs(sys.argv[1], exist_ok=True); open(os.path.join(sys.argv[1], 'go'), 'w')"
    try:  # with the image's python (an image may have no shell); as root: the folder is the probe user's
        image.shared_container().exec([probes.PYTHON, "-c", write_go, folder], timeout=image.spec.timeouts.command,
                                      user="0")
    except ImagecheckError:
        pass  # the container is gone: the run's own result says so


def result(image: "ImageUnderTest") -> tuple[PlannedCompile, dict]:
    """The run's plan and the probe's data, once the models are timed (started and released
    now if no one did: image.quiet() releases it after the image's other background work)."""
    start(image)
    image.quiet()
    return planned(image), image.memo.result(RUN)
