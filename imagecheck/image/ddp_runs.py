"""The distributed runs that the checks of one image share, made on first use inside a check.

One torchrun run per image and layout (one node, two nodes) serves every check of that
layout (image.shared): it starts inside the first check that needs it, so a run that fails
or stalls fails each of those checks with its message (not their setup), and a host
without the GPUs the plan needs skips them (fails them in a release run) from within the
check. The machine's own figure for the same plan is measured once per image beside it.
"""
from __future__ import annotations

from typing import Any, Callable

import docker.errors

from ..errors import DistributedError, ImagecheckError, explain
from ..rules import machine_share
from ..rules.ddp_plan import Plan, plan_for
from ..rules.machine_share import Attempt
from ..rules.ddp_results import DistributedRun
from .host_figure import HostFigure, host_bandwidth
from .torchrun import run_in_image
from .under_test import ImageUnderTest


class DistributedRuns:
    """What a check of the distributed tier asks for: the plan, the run, the host's figure."""

    def __init__(self, image: ImageUnderTest, *, require_gpus: Callable[[int], None], progress: Any,
                 evidence: Any, release: bool, worker: str, nodes: int = 1) -> None:
        self.image = image
        self.require_gpus = require_gpus
        self.progress = progress
        self.evidence = evidence
        self.release = release
        self.worker = worker
        self.nodes = nodes

    def plan(self) -> Plan:
        """NCCL on the granted GPUs (at least two), else gloo on CPU; in a release run fewer
        than two GPUs (or a host that cannot run the image's CUDA) fails the check."""
        access = self.image.gpu
        if access.granted >= 2 or self.release:
            self.require_gpus(2)
        return plan_for(access, self.image.spec.ddp, self.nodes)

    def run(self) -> DistributedRun:
        """The run (started now if it has not run yet); DistributedError if it failed."""
        plan = self.plan()
        self.image.require_python()
        self.image.quiet()  # the image's background work ends before the bandwidth is measured

        def make() -> DistributedRun:
            with self.progress.step(f"torchrun in {self.nodes} container(s): {plan.describe()}"):
                return run_in_image(self.image, plan, report=self.progress)

        run = self.image.shared(("torchrun", self.nodes, plan), make, translate=self._engine_failure)
        self.evidence("ddp.run", {**run.evidence(), "worker": self.worker, "gpu_access": self.image.gpu.describe()})
        self.evidence("ddp.rank_environment", {rank: result.get("environment")
                                               for rank, result in run.results().items()})
        if run.failure:
            raise DistributedError(run.failure)
        return run

    def host_figure(self, plan: Plan, environment: dict[str, str] | None = None, attempt: int = 1) -> HostFigure:
        """The machine's own bandwidth for the same plan (and forced environment), outside any
        container, once per attempt."""
        def make() -> HostFigure:
            with self.progress.step("all_reduce on the host, outside any container"):
                return host_bandwidth(plan, self.image.spec.ddp, float(self.image.spec.timeouts.ddp),
                                      report=self.progress, environment=environment)

        key = ("host-figure", plan, tuple(sorted((environment or {}).items())), attempt)
        try:
            return self.image.shared(key, make)
        except ImagecheckError as error:
            return HostFigure(None, f"the host's run could not be made: {error}")

    def bandwidth_again(self, plan: Plan, attempt: int) -> float | None:
        """The container's all_reduce measured once more (torchrun again, no DDP steps)."""
        def make() -> DistributedRun:
            with self.progress.step(f"torchrun again for the all_reduce bandwidth (attempt {attempt})"):
                return run_in_image(self.image, plan, report=self.progress, ddp_steps=False)

        run = self.image.shared(("torchrun-again", self.nodes, plan, attempt), make, translate=self._engine_failure)
        return None if run.failure else run.bandwidth_gbps()

    def bandwidth_attempts(self, run: DistributedRun, environment: dict[str, str] | None = None
                           ) -> tuple[list[Attempt], HostFigure]:
        """The run's all_reduce bandwidth against the host's twin; a share below the image's
        ddp.min_host_share is measured again, both sides (machine_share.ATTEMPTS in all).
        Returns every attempt and the host's first figure (its transports, or why not)."""
        floor = self.image.spec.ddp.min_host_share
        first = self.host_figure(run.plan, environment)
        attempts = [Attempt(run.bandwidth_gbps(), first.gbps)]
        while machine_share.needs_another(attempts, floor):
            number = len(attempts) + 1
            host = self.host_figure(run.plan, environment, attempt=number)
            attempts.append(Attempt(self.bandwidth_again(run.plan, number), host.gbps))
        return attempts, first

    def _engine_failure(self, error: Exception) -> ImagecheckError | None:
        """The Docker engine's own error during a run, as a failure the checks report."""
        if not isinstance(error, docker.errors.DockerException):
            return None
        return DistributedError(explain(
            f"the Docker engine failed during the distributed run of {self.image.ref}",
            observed=f"{type(error).__name__}: {str(error)[:500]}",
            hint="the run's containers and network are labelled; a later run's sweep removes what this one left"))
