"""The distributed run that the checks of one image share, run on first use inside a check.

One torchrun run per image and layout (one node, two nodes) serves every check of that
layout; it starts inside the first check that needs it, so a run that fails or stalls
fails each of those checks with its message (not their setup), and a host without the
GPUs the plan needs skips them (fails them under --require-gpu) from within the check.
"""
from __future__ import annotations

from typing import Any, Callable

import docker.errors
import pytest

from . import distributed
from .errors import ImagecheckError, explain
from .outcomes import fail

_RUNS = pytest.StashKey[dict]()


class DdpChecks:
    """What a check of the distributed tier asks for: the plan, the run, the host's figure."""

    def __init__(self, config: pytest.Config, image: Any, require_gpus: Callable[[int], None],
                 progress: Any, evidence: Any, nodes: int = 1) -> None:
        self.config = config
        self.image = image
        self.require_gpus = require_gpus
        self.progress = progress
        self.evidence = evidence
        self.nodes = nodes

    def plan(self) -> distributed.Plan:
        """NCCL on the granted GPUs (at least two), else gloo on CPU; under --require-gpu
        fewer than two GPUs (or a host that cannot run the image's CUDA) fails the check."""
        access = self.image.gpu
        if access.granted >= 2 or self.config.getoption("--require-gpu"):
            self.require_gpus(2)
        return distributed.plan(access, self.image.spec.ddp, self.nodes)

    def _cached(self, key: tuple, make: Callable[[], Any]) -> Any:
        """make()'s result, or its failure (an ImagecheckError, or the Docker engine's own
        error as one), made once per key: every later check gets the same."""
        cache = self.config.stash.setdefault(_RUNS, {})
        if key not in cache:
            try:
                cache[key] = make()
            except ImagecheckError as error:
                cache[key] = error
            except docker.errors.DockerException as error:
                cache[key] = distributed.DistributedError(explain(
                    f"the Docker engine failed during the distributed run of {self.image.ref}",
                    observed=f"{type(error).__name__}: {str(error)[:500]}",
                    hint="the run's containers and network are labelled; a later run's sweep removes "
                         "what this one left"))
        return cache[key]

    def run(self) -> distributed.DistributedRun:
        """The run (started now if it has not run yet); fails the check if it failed."""
        plan = self.plan()

        def make() -> distributed.DistributedRun:
            with self.progress.step(f"torchrun in {self.nodes} container(s): {plan.describe()}"):
                return distributed.run_in_image(self.image, plan, report=self.progress)

        run = self._cached((self.image.ref, self.nodes, plan), make)
        if isinstance(run, ImagecheckError):
            fail(str(run))
        worker = getattr(self.config, "workerinput", {}).get("workerid", "main")
        self.evidence("ddp.run", {**run.evidence(), "worker": worker, "gpu_access": self.image.gpu.describe()})
        self.evidence("ddp.rank_environment", {rank: result.get("environment")
                                               for rank, result in run.results().items()})
        if run.failure:
            fail(run.failure)
        return run

    def host_figure(self, plan: distributed.Plan) -> distributed.HostFigure:
        """The machine's own bandwidth for the same plan, outside any container (once)."""
        def make() -> distributed.HostFigure:
            with self.progress.step("all_reduce on the host, outside any container"):
                return distributed.host_bandwidth(plan, self.image.spec.ddp, float(self.image.spec.timeouts.ddp),
                                                  report=self.progress)

        figure = self._cached(("host", plan), make)
        if isinstance(figure, ImagecheckError):
            return distributed.HostFigure(None, f"the host's run could not be made: {figure}")
        return figure
