"""The machine's own figure for what a container of the image measured: the same all_reduce,
run by torchrun on this host with the host's python and the same GPUs, outside any
container. A container that reaches a small share of it is held back by the image."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

from ..config import DdpSpec
from ..errors import CommandTimeout, ImagecheckError
from ..rules import nccl_transport
from ..rules.ddp_plan import RUN_ENV, SAFETY_ENV, Plan, bus_bandwidth_gbps, torchrun_command, worker_args
from ..runtime.engine import engine_is_local
from ..runtime.local import LocalHost
from . import probes
from .torchrun import COLLECT_TIMEOUT, WORKER, Reporter, reserve


@dataclass(frozen=True)
class HostFigure:
    """The machine's own all_reduce bus bandwidth, measured outside any container, and the
    transports NCCL picked there; or why it could not be measured."""

    gbps: float | None
    why_not: str | None = None
    transports: tuple[str, ...] = ()


def _outside_the_engine_host() -> str | None:
    """Why this machine's figures say nothing of the engine's containers, if they do not."""
    if engine_is_local():
        return None
    return (f"the Docker engine is not on this machine (DOCKER_HOST={os.environ.get('DOCKER_HOST')}), "
            "so this machine's figure says nothing of it")


def _no_torch(why: str, python: str) -> str:
    return f"the host's python ({python}) has no torch" if "No module named" in why and "torch" in why else why


def host_bandwidth(plan: Plan, ddp: DdpSpec, limit: float, *, python: str | None = None,
                   report: Reporter | None = None, environment: dict[str, str] | None = None) -> HostFigure:
    """The same all_reduce as the container's, run by torchrun on this host with the host's
    python and the same GPUs (CUDA_VISIBLE_DEVICES in PCI order), outside any container, as
    one node of plan.world processes. environment adds variables (to force the transport a
    two-node run of containers used, so that the twin measures the same one)."""
    if plan.device != "cuda":
        return HostFigure(None, "the host figure is measured for NCCL runs on GPUs only")
    outside = _outside_the_engine_host()
    if outside:
        return HostFigure(None, outside)
    say = report or (lambda message: None)
    indices = ",".join(str(i) for node in plan.nodes for i in node.indices)
    single = replace(plan, nodes=(plan.nodes[0].subset(tuple(i for n in plan.nodes for i in n.indices)),),
                     procs_per_node=plan.world)
    env = {**RUN_ENV, "CUDA_VISIBLE_DEVICES": indices, "CUDA_DEVICE_ORDER": "PCI_BUS_ID", **(environment or {})}
    started = time.monotonic()
    with LocalHost(python) as host:
        folder = str(host.scratch / "probes")
        out = str(host.scratch / "out")
        probes.install(host, folder)
        args = worker_args(single, ddp, out, pg_timeout=limit, ddp_steps=False)
        command = torchrun_command([host.python, "-m", "torch.distributed.run"], single, f"{folder}/{WORKER}.py", args)
        say(f"the same all_reduce on the host, outside any container (GPUs {indices})")
        budget = limit - reserve(limit)
        try:
            result = host.exec(command, timeout=budget, environment=env)
        except CommandTimeout as error:
            return HostFigure(None, f"the host's run did not finish in {budget:.0f} s: {error}")
        data = probes.run(host, "ddp_results", [out, "12", nccl_transport.VIA.pattern], timeout=COLLECT_TIMEOUT,
                          directory=folder, python=host.python).data
    ranks = data.get("ranks") or {}
    rank0 = (ranks.get("0") or {}).get("result") or {}
    figure = rank0.get("bandwidth")
    if result.exit_code != 0 or not figure:
        return HostFigure(None, f"the host's run failed: {_no_torch(rank0.get('error') or result.tail(6), host.python)}")
    seconds = float(figure["seconds_per_op"])
    say(f"host all_reduce done in {time.monotonic() - started:.0f} s")
    found = nccl_transport.transports([line for r in ranks.values() for line in r.get("transport_lines") or []])
    return HostFigure(bus_bandwidth_gbps(figure["bytes"], seconds, int(figure["world_size"])), None, tuple(found))


@dataclass(frozen=True)
class HostRates:
    """The machine's own GPU rates (probe gpu_rates), measured outside any container, or why not."""

    rates: dict | None
    why_not: str | None = None


def host_gpu_rates(index: int, args: str, timeout: float, *, python: str | None = None) -> HostRates:
    """The gpu_rates probe on this host with the host's python, on host GPU `index` alone."""
    outside = _outside_the_engine_host()
    if outside:
        return HostRates(None, outside)
    env = {**SAFETY_ENV, "CUDA_VISIBLE_DEVICES": str(index), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    with LocalHost(python) as host:
        folder = str(host.scratch / "probes")
        probes.install(host, folder)
        try:
            data = probes.run(host, "gpu_rates", [args], timeout=timeout, directory=folder, python=host.python,
                              environment=env).data
        except ImagecheckError as error:
            return HostRates(None, f"the host's run failed: {str(error).splitlines()[0]}")
    if not data.get("ok"):
        return HostRates(None, f"the host's run failed: {_no_torch(str(data.get('error')), host.python)}")
    return HostRates(data)
