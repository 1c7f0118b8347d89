"""How a distributed run of an image is laid out, before anything runs: NCCL over the
granted GPUs when there are at least two (split evenly between the nodes), else gloo on
CPU with ddp.cpu_processes processes; the worker's arguments; the torchrun command of
each node; the bus bandwidth formula the figures use. Pure: no container, no engine.

NVLink multicast is kept off in every container and host process of a run (SAFETY_ENV):
on shared multi-GPU hosts a program that uses it can take the GPUs down.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import DdpSpec
from .nccl_transport import DEBUG_ENV

if TYPE_CHECKING:
    from ..runtime.gpu import GpuAccess

# Kept in every container and host process of a distributed run (see the module docstring).
SAFETY_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
# NCCL_DEBUG=INFO for its INIT, P2P, SHM and NET subsystems: the transports it picks
# (rules/nccl_transport.py) and its warnings.
RUN_ENV = {**SAFETY_ENV, **DEBUG_ENV, "TORCH_CPP_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
           "OMP_NUM_THREADS": "1"}


def bus_bandwidth_gbps(size_bytes: float, seconds: float, world: int) -> float:
    """The nccl-tests bus bandwidth of an all_reduce, in GB/s (1e9 bytes/s):
    algorithm bandwidth (bytes / time) x 2 (n - 1) / n, the share of the data every link
    carries in a ring; it equals the link speed whatever the number of ranks."""
    if seconds <= 0 or world < 1:
        raise ValueError(f"bus bandwidth needs a positive time and world size (got {seconds} s, {world})")
    return size_bytes / seconds / 1e9 * (2 * (world - 1) / world)


# ---- the plan -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """How a run is laid out: backend, device, nodes (the GPU access of each) and processes."""

    backend: str                     # nccl | gloo
    device: str                      # cuda | cpu
    nodes: tuple[GpuAccess, ...]     # one per node
    procs_per_node: int
    bandwidth_bytes: int
    why: str

    @property
    def world(self) -> int:
        return len(self.nodes) * self.procs_per_node

    @property
    def gpus(self) -> int:
        return sum(node.granted for node in self.nodes) if self.device == "cuda" else 0

    @property
    def shared(self) -> bool:
        """Whether the run's GPUs are also given to another xdist worker (runtime.gpu.worker_share):
        its timings then are not the image's."""
        return self.device == "cuda" and any(node.shared for node in self.nodes)

    def describe(self) -> str:
        where = f"{self.gpus} GPUs" if self.device == "cuda" else "CPU"
        procs = "process" if self.procs_per_node == 1 else "processes"
        return f"{self.backend} on {where}, {len(self.nodes)} node(s) x {self.procs_per_node} {procs}"

    @property
    def perf_subject(self) -> str:
        """The perf key subject of this run's all_reduce (rules/perf.py): all_reduce.2gpu,
        all_reduce.cpu_2proc on one node; all_reduce.2node_2gpu, all_reduce.cpu_2node_2proc on two."""
        nodes = f"{len(self.nodes)}node_" if len(self.nodes) > 1 else ""
        return f"all_reduce.{nodes}{self.gpus}gpu" if self.device == "cuda" else \
            f"all_reduce.cpu_{nodes}{self.world}proc"


def plan_for(access: GpuAccess, ddp: DdpSpec, nodes: int = 1) -> Plan:
    """NCCL over the granted GPUs when there are at least two (split evenly between the
    nodes), else gloo on CPU with ddp.cpu_processes processes in all."""
    if access.granted >= 2:
        per = access.granted // nodes
        shares = tuple(access.subset(access.indices[k * per:(k + 1) * per]) for k in range(nodes))
        return Plan("nccl", "cuda", shares, per, ddp.bandwidth_bytes,
                    f"{access.granted} GPUs granted: NCCL, one process per GPU")
    no_gpu = access.subset(())
    per = max(1, ddp.cpu_processes // nodes)
    return Plan("gloo", "cpu", (no_gpu,) * nodes, per, ddp.cpu_bandwidth_bytes,
                f"this host grants {access.granted} GPU(s) and NCCL needs 2: gloo on CPU")


def worker_args(plan: Plan, ddp: DdpSpec, out: str, pg_timeout: float, *, ddp_steps: bool = True) -> dict:
    """The JSON arguments of fixtures/probes/ddp_worker.py for this plan."""
    gpu = plan.device == "cuda"
    return {"out": out, "backend": plan.backend, "device": plan.device, "model": ddp.model,
            "steps": ddp.steps, "batch_size": ddp.batch_size, "image_size": ddp.image_size, "ddp": ddp_steps,
            "bandwidth_bytes": plan.bandwidth_bytes, "bandwidth_warmup": 5 if gpu else 2,
            "bandwidth_iterations": 20 if gpu else 5, "pg_timeout": round(pg_timeout),
            "report_env": sorted(RUN_ENV)}


def torchrun_command(launcher: list[str], plan: Plan, script: str, args: dict, *, node: int = 0,
                     endpoint: str | None = None, rdzv_id: str = "", join_timeout: float = 300) -> list[str]:
    """torchrun for one node: standalone on one node, a c10d rendezvous at endpoint on two."""
    command = [*launcher, f"--nproc-per-node={plan.procs_per_node}", "--max-restarts=0", "--monitor-interval=1"]
    if len(plan.nodes) == 1:
        command += ["--standalone", "--nnodes=1"]
    else:
        command += [f"--nnodes={len(plan.nodes)}", "--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}",
                    f"--rdzv-id={rdzv_id}",
                    f"--rdzv-conf=is_host={1 if node == 0 else 0},join_timeout={round(join_timeout)}"]
    return command + [script, json.dumps(args, sort_keys=True)]
