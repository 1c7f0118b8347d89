"""The machine's own figure for what a container of the image measured: the same all_reduce,
run by torchrun on this host with the host's python and the same GPUs, outside any
container. A container that reaches a small share of it is held back by the image."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..config import DdpSpec
from ..errors import CommandTimeout
from ..rules.ddp_plan import RUN_ENV, Plan, bus_bandwidth_gbps, torchrun_command, worker_args
from ..runtime.engine import engine_is_local
from ..runtime.local import LocalHost
from . import probes
from .torchrun import COLLECT_TIMEOUT, WORKER, Reporter, reserve


@dataclass(frozen=True)
class HostFigure:
    """The machine's own all_reduce bus bandwidth, measured outside any container, or why not."""

    gbps: float | None
    why_not: str | None = None


def host_bandwidth(plan: Plan, ddp: DdpSpec, limit: float, *, python: str | None = None,
                   report: Reporter | None = None) -> HostFigure:
    """The same all_reduce as the container's, run by torchrun on this host with the host's
    python and the same GPUs (CUDA_VISIBLE_DEVICES in PCI order), outside any container."""
    if plan.device != "cuda" or len(plan.nodes) != 1:
        return HostFigure(None, "the host figure is measured for a single-node NCCL run only")
    if not engine_is_local():
        return HostFigure(None, f"the Docker engine is not on this machine (DOCKER_HOST="
                                f"{os.environ.get('DOCKER_HOST')}), so this machine's figure says nothing of it")
    say = report or (lambda message: None)
    indices = ",".join(str(i) for i in plan.nodes[0].indices)
    env = {**RUN_ENV, "CUDA_VISIBLE_DEVICES": indices, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    started = time.monotonic()
    with LocalHost(python) as host:
        folder = str(host.scratch / "probes")
        out = str(host.scratch / "out")
        probes.install(host, folder)
        args = worker_args(plan, ddp, out, pg_timeout=limit, ddp_steps=False)
        command = torchrun_command([host.python, "-m", "torch.distributed.run"], plan, f"{folder}/{WORKER}.py", args)
        say(f"the same all_reduce on the host, outside any container (GPUs {indices})")
        budget = limit - reserve(limit)
        try:
            result = host.exec(command, timeout=budget, environment=env)
        except CommandTimeout as error:
            return HostFigure(None, f"the host's run did not finish in {budget:.0f} s: {error}")
        data = probes.run(host, "ddp_results", [out, "12"], timeout=COLLECT_TIMEOUT, directory=folder,
                          python=host.python).data
    rank0 = ((data.get("ranks") or {}).get("0") or {}).get("result") or {}
    figure = rank0.get("bandwidth")
    if result.exit_code != 0 or not figure:
        why = rank0.get("error") or result.tail(6)
        if "No module named" in why and "torch" in why:
            why = f"the host's python ({host.python}) has no torch"
        return HostFigure(None, f"the host's run failed: {why}")
    seconds = float(figure["seconds_per_op"])
    say(f"host all_reduce done in {time.monotonic() - started:.0f} s")
    return HostFigure(bus_bandwidth_gbps(figure["bytes"], seconds, int(figure["world_size"])))
