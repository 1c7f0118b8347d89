"""Distributed runs of an image: torchrun inside its containers, on one node or two.

A run starts one container per node (labelled, removed on every path), launches the
image's own `torchrun` in each with fixtures/probes/ddp_worker.py as the training
script, and collects what every rank left behind (fixtures/probes/ddp_results.py). The
checks judge those results; this module only runs and explains.

Never hang: torchrun gets what is left of the image's `timeouts.ddp` (images.yaml) after
the containers started, minus a reserve for reading the ranks' files; when it runs out,
torchrun and every process below it are killed, the ranks' step logs name the rank that
stalled (the one that got least far) and the last NCCL / gloo / c10d lines of each rank,
and the containers (and the two-node network) are removed. The nodes' files are read in
parallel, with what is left of the limit (at least 5 s). The bound, from the first
container's start to the last result read, is timeouts.ddp plus KILL_ALLOWANCE (35 s:
the kill is itself a command bounded at 30 s, then 5 s for its output) for each command
that has to be killed, torchrun and then a read that hangs: at most timeouts.ddp + 75 s;
removing the containers and the network comes after. NCCL_DEBUG=WARN is set for every
run, and NVLink multicast is kept off in every container and host process
(NCCL_NVLS_ENABLE=0 and friends): on shared multi-GPU hosts a program that uses it can
take the GPUs down. Each rank reports these variables as it sees them.

Plans: with two or more GPUs granted, NCCL with one process per GPU (two nodes: the
GPUs split between the nodes); with fewer, gloo on CPU with `ddp.cpu_processes`
processes, so every CI run exercises torchrun, rendezvous and DDP in real containers.
Two nodes are two containers on a user-defined Docker network made (and removed) for
the run, each with its own address, meeting through a c10d rendezvous; an engine
without a bridge network gets `--network host` and a free port instead.
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import docker.errors

from . import probes
from .config import DdpSpec
from .errors import CommandTimeout, ImagecheckError, explain
from .runtime.docker import Container, ExecResult, engine_is_local, has_default_bridge
from .runtime.gpu import GpuAccess
from .runtime.local import LocalHost

# Kept in every container and host process of a distributed run (see the module docstring).
SAFETY_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
RUN_ENV = {**SAFETY_ENV, "NCCL_DEBUG": "WARN", "TORCH_CPP_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
           "OMP_NUM_THREADS": "1"}
RENDEZVOUS_PORT = 29400
WORKER = "ddp_worker"
# What the reserve at the end of a run is for: reading the ranks' files.
COLLECT_TIMEOUT = 30.0
COLLECT_MINIMUM = 5.0
# How long killing a command that ran past its limit may take (runtime.docker: a kill
# command bounded at 30 s, then 5 s for the output).
KILL_ALLOWANCE = 35.0
Reporter = Callable[[str], Any]


class DistributedError(ImagecheckError):
    """A distributed run could not be set up (the limit is too small, a node did not start)."""


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
        """The perf key subject of this run's all_reduce (imagecheck.perf): all_reduce.2gpu,
        all_reduce.cpu_2proc."""
        return f"all_reduce.{self.gpus}gpu" if self.device == "cuda" else f"all_reduce.cpu_{self.world}proc"


def plan(access: GpuAccess, ddp: DdpSpec, nodes: int = 1) -> Plan:
    """NCCL over the granted GPUs when there are at least two (split evenly between the
    nodes), else gloo on CPU with ddp.cpu_processes processes in all."""
    if access.granted >= 2:
        per = access.granted // nodes
        shares = tuple(access.subset(access.indices[k * per:(k + 1) * per]) for k in range(nodes))
        return Plan("nccl", "cuda", shares, per, ddp.bandwidth_bytes if nodes == 1 else 0,
                    f"{access.granted} GPUs granted: NCCL, one process per GPU")
    no_gpu = access.subset(())
    per = max(1, ddp.cpu_processes // nodes)
    return Plan("gloo", "cpu", (no_gpu,) * nodes, per, ddp.cpu_bandwidth_bytes if nodes == 1 else 0,
                f"this host grants {access.granted} GPU(s) and NCCL needs 2: gloo on CPU")


def worker_args(plan_: Plan, ddp: DdpSpec, out: str, pg_timeout: float, *, ddp_steps: bool = True) -> dict:
    """The JSON arguments of fixtures/probes/ddp_worker.py for this plan."""
    gpu = plan_.device == "cuda"
    return {"out": out, "backend": plan_.backend, "device": plan_.device, "model": ddp.model,
            "steps": ddp.steps, "batch_size": ddp.batch_size, "image_size": ddp.image_size, "ddp": ddp_steps,
            "bandwidth_bytes": plan_.bandwidth_bytes, "bandwidth_warmup": 5 if gpu else 2,
            "bandwidth_iterations": 20 if gpu else 5, "pg_timeout": round(pg_timeout),
            "report_env": sorted(RUN_ENV)}


def torchrun_command(launcher: list[str], plan_: Plan, script: str, args: dict, *, node: int = 0,
                     endpoint: str | None = None, rdzv_id: str = "", join_timeout: float = 300) -> list[str]:
    """torchrun for one node: standalone on one node, a c10d rendezvous at endpoint on two."""
    command = [*launcher, f"--nproc-per-node={plan_.procs_per_node}", "--max-restarts=0", "--monitor-interval=1"]
    if len(plan_.nodes) == 1:
        command += ["--standalone", "--nnodes=1"]
    else:
        command += [f"--nnodes={len(plan_.nodes)}", "--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}",
                    f"--rdzv-id={rdzv_id}",
                    f"--rdzv-conf=is_host={1 if node == 0 else 0},join_timeout={round(join_timeout)}"]
    return command + [script, json.dumps(args, sort_keys=True)]


# ---- what a run leaves ------------------------------------------------------------------------
@dataclass
class RankOutcome:
    """What one rank left: its steps, its result (None if it never finished), its log lines."""

    rank: int
    node: int
    phases: list[dict]
    result: dict | None
    log_tail: list[str]
    comm_tail: list[str]

    @property
    def last_phase(self) -> str | None:
        return self.phases[-1]["phase"] if self.phases else None

    @property
    def progress(self) -> int:
        return self.phases[-1].get("seq", len(self.phases)) if self.phases else 0


@dataclass
class NodeOutcome:
    """One node: where it ran, its address, and how its torchrun ended."""

    node: int
    where: str
    address: str
    container_id: str = ""
    exit_code: int | None = None     # None: killed at the limit
    output: str = ""                 # torchrun's own last lines
    timed_out: bool = False
    collect_error: str | None = None
    clock: float | None = None       # the node's time.time() when its results were read


@dataclass
class DistributedRun:
    """A finished (or killed) run: the plan, every rank's outcome, every node's, and why it
    failed (None when torchrun ended well on every node and every rank reported)."""

    image: str
    plan: Plan
    limit: float
    network: str
    steps: int = 0
    endpoint: str | None = None
    network_name: str | None = None
    ranks: dict[int, RankOutcome] = field(default_factory=dict)
    nodes: list[NodeOutcome] = field(default_factory=list)
    seconds: float = 0.0
    failure: str | None = None

    def results(self) -> dict[int, dict]:
        """Every rank's result, by rank (only meaningful when failure is None)."""
        return {rank: outcome.result for rank, outcome in sorted(self.ranks.items()) if outcome.result}

    def evidence(self) -> dict:
        return {"plan": self.plan.describe(), "why": self.plan.why, "network": self.network,
                "rendezvous": self.endpoint or "standalone (one node)",
                "seconds": round(self.seconds, 1), "limit_s": self.limit,
                "network_name": self.network_name,
                "nodes": [{"node": n.node, "where": n.where, "address": n.address, "container_id": n.container_id,
                           "gpus": list(self.plan.nodes[n.node].indices)} for n in self.nodes]}


@dataclass(frozen=True)
class Stall:
    """Which ranks stalled, and one line per rank saying where each one was."""

    stalled: tuple[int, ...]
    every_rank: bool
    lines: tuple[str, ...]

    def summary(self) -> str:
        if not self.stalled:
            return "no rank reported a step"
        names = ", ".join(str(r) for r in self.stalled)
        if self.every_rank:
            return f"every rank stopped at the same step (ranks {names}): a collective that never completed"
        return f"rank {names} stalled" if len(self.stalled) == 1 else f"ranks {names} stalled"


def diagnose(world: int, ranks: dict[int, RankOutcome], clocks: dict[int, float | None] | None = None) -> Stall:
    """Name the stalled ranks of a killed run: those that got least far (fewest steps
    recorded); a rank with no step at all never reached the worker script."""
    clocks = clocks or {}
    reached = {rank: ranks[rank].progress if rank in ranks else 0 for rank in range(world)}
    if not reached:
        return Stall((), False, ())
    low, high = min(reached.values()), max(reached.values())
    stalled = tuple(rank for rank, value in reached.items() if value == low)
    lines = []
    for rank in range(world):
        outcome = ranks.get(rank)
        if outcome is None or not outcome.phases:
            lines.append(f"rank {rank}: no step recorded: it never reached the worker script "
                         "(stuck at interpreter start, or never started)")
            continue
        last = outcome.phases[-1]
        now = clocks.get(outcome.node)
        since = f" for {now - last['t']:.0f} s" if now and last.get("t") else ""
        state = "stalled" if rank in stalled and low != high else "waiting"
        lines.append(f"rank {rank} (node {outcome.node}): {state} in '{last['phase']}'{since} "
                     f"({last.get('seq', len(outcome.phases))} steps recorded)")
    return Stall(stalled, low == high, tuple(lines))


# ---- judging the ranks' results (pure: the checks call these) -------------------------------
def all_reduce_errors(results: dict[int, dict]) -> list[str]:
    """One line per rank whose all_reduce result was wrong (or missing)."""
    errors = []
    for rank, result in sorted(results.items()):
        check = result.get("all_reduce") or {}
        if not check.get("ok"):
            first, last = check.get("first") or ["?", "?"], check.get("last") or ["?", "?"]
            errors.append(f"rank {rank}: {check.get('wrong_elements', '?')} of {check.get('elements', '?')} elements "
                          f"wrong (first: got {first[0]}, expected {first[1]}; last: got {last[0]}, expected {last[1]})")
    return errors


def step_disagreements(results: dict[int, dict]) -> list[str]:
    """Where the ranks do not hold identical parameters and gradients after a DDP step:
    digests that differ from rank 0's, or a nonzero difference to rank 0's tensors."""
    problems = []
    steps = {rank: (result.get("ddp") or {}).get("steps") or [] for rank, result in results.items()}
    counts = {rank: len(s) for rank, s in steps.items()}
    if len(set(counts.values())) > 1 or not any(counts.values()):
        return [f"ranks recorded different numbers of DDP steps: {counts}"]
    reference = steps[min(steps)]
    for index, first in enumerate(reference):
        for what in ("param", "grad"):
            digests = {rank: s[index][f"{what}_digest"] for rank, s in steps.items()}
            diffs = {rank: s[index][f"{what}_max_diff_to_rank0"] for rank, s in steps.items()}
            name = "parameters" if what == "param" else "gradients"
            if len(set(digests.values())) > 1:
                problems.append(f"step {first['step']}: {name} differ between ranks (digests {digests})")
            elif any(d != 0 for d in diffs.values()):
                problems.append(f"step {first['step']}: {name} differ from rank 0's by up to "
                                f"{max(diffs.values()):.3g}")
    return problems


def loss_curve(results: dict[int, dict]) -> tuple[list[float], list[str]]:
    """The mean loss over all ranks after each step (as rank 0 saw it), and where ranks
    disagree on it (they all_reduce the same numbers, so they must not)."""
    curves = {rank: [s["mean_loss"] for s in (result.get("ddp") or {}).get("steps") or []]
              for rank, result in sorted(results.items())}
    if not curves:
        return [], ["no rank reported a loss"]
    reference = curves[min(curves)]
    problems = [f"rank {rank} saw mean losses {curve}, rank {min(curves)} saw {reference}"
                for rank, curve in curves.items() if curve != reference]
    return reference, problems


# ---- networks for two nodes ------------------------------------------------------------------
@dataclass
class NodeNetwork:
    """How nodes reach each other: a user-defined bridge network, or the host's."""

    mode: str                  # bridge | host
    name: str | None = None

    def container_kwargs(self, node: int) -> dict:
        if self.mode == "host":
            return {"network_mode": "host"}
        return {"network": self.name, "hostname": f"node{node}"}

    def describe(self) -> str:
        if self.mode == "host":
            return "host network (the engine has no bridge network): nodes told apart by port and NCCL host id"
        return f"user-defined bridge network {self.name}"


@contextlib.contextmanager
def node_network(image: Any, tag: str) -> Iterator[NodeNetwork]:
    """A labelled user-defined network for the nodes of one run, removed afterwards; the
    host network on an engine without a bridge (the nodes then differ by port)."""
    client = image.context.client
    if not has_default_bridge(client):
        yield NodeNetwork("host")
        return
    name = f"imagecheck-ddp-{image.context.identity.run_id}-{tag}"
    try:
        network = client.networks.create(name, driver="bridge",
                                         labels=image.context.identity.labels(image.ref, "ddp-network"))
    except docker.errors.APIError as error:
        raise DistributedError(explain(
            "could not create a Docker network for the two-node run", observed=str(error)[:300],
            hint="the engine must allow user-defined bridge networks")) from None
    try:
        yield NodeNetwork("bridge", name)
    except BaseException:
        _remove_network(network)  # the run's own error counts; a network left behind is swept later
        raise
    problem = _remove_network(network)
    if problem:
        raise DistributedError(explain(
            f"could not remove the Docker network {name} of the two-node run", observed=problem,
            hint="it is labelled: the next run's sweep removes it (or `docker network rm` it)"))


def _remove_network(network: Any, attempts: int = 5) -> str | None:
    """Remove the network (tried a few times: a container just removed may still hold an
    endpoint); None when it is gone, else the engine's last error."""
    for attempt in range(attempts):
        try:
            network.remove()
            return None
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as error:
            if attempt == attempts - 1:
                return str(error)[:300]
            time.sleep(1)
    return None


# ---- running ----------------------------------------------------------------------------------
def run_in_image(image: Any, plan_: Plan, *, report: Reporter | None = None) -> DistributedRun:
    """torchrun in containers of the image, per the plan; containers (and the network)
    are gone when this returns, whatever happened."""
    spec = image.spec
    limit = float(spec.timeouts.ddp)
    started = time.monotonic()
    deadline = started + limit
    tag = uuid.uuid4().hex[:8]
    out = f"/tmp/imagecheck-ddp-{tag}"
    nodes = len(plan_.nodes)
    outcome = DistributedRun(image.ref, plan_, limit, "container default" if nodes == 1 else "", spec.ddp.steps)
    say = report or (lambda message: None)
    with contextlib.ExitStack() as stack:
        network = stack.enter_context(node_network(image, tag)) if nodes > 1 else None
        if network is not None:
            outcome.network, outcome.network_name = network.describe(), network.name
        containers: list[Container] = []
        for node, access in enumerate(plan_.nodes):
            env = {**RUN_ENV, **({"NCCL_HOSTID": f"imagecheck-node{node}-{tag}"} if nodes > 1 else {})}
            containers.append(stack.enter_context(image.probe_container(
                f"ddp-node{node}", gpu=access, environment=env,
                **(network.container_kwargs(node) if network else {}))))
        addresses = [_address(c, network) for c in containers]
        endpoint = None
        if nodes > 1:
            port = RENDEZVOUS_PORT
            if network.mode == "host":
                port = probes.run(containers[0], "ddp_free_port", timeout=COLLECT_TIMEOUT).data["port"]
                addresses = [f"host network, node {k}" for k in range(nodes)]
            host = "127.0.0.1" if network.mode == "host" else addresses[0]
            endpoint = outcome.endpoint = f"{host}:{port}"
        budget = deadline - time.monotonic() - _reserve(limit)
        if budget < 10:
            raise DistributedError(explain(
                f"no time left for torchrun in {image.ref}", expected=f"the run to fit in {limit:.0f} s",
                observed=f"{time.monotonic() - started:.0f} s went to starting {nodes} container(s)",
                hint="raise timeouts.ddp in images.yaml"))
        args = worker_args(plan_, spec.ddp, out, pg_timeout=limit)
        script = f"{probes.IN_CONTAINER_DIR}/{WORKER}.py"
        commands = [torchrun_command(["torchrun"], plan_, script, args, node=k, endpoint=endpoint,
                                     rdzv_id=f"imagecheck-{tag}", join_timeout=limit) for k in range(nodes)]
        outcome.nodes = [NodeOutcome(k, containers[k].name, addresses[k], containers[k].id) for k in range(nodes)]
        say(f"torchrun: {plan_.describe()} ({budget:.0f} s left of timeouts.ddp {limit:.0f} s)")
        _launch(containers, commands, outcome.nodes, budget)
        _collect_all(containers, out, outcome, deadline)
    outcome.seconds = time.monotonic() - started
    outcome.failure = _failure(outcome)
    return outcome


def _reserve(limit: float) -> float:
    return min(COLLECT_TIMEOUT, max(5.0, limit * 0.15))


def _address(container: Container, network: NodeNetwork | None) -> str:
    if network is None or network.mode != "bridge":
        return container.name
    attrs = container.reload()
    return ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).get(network.name, {}).get("IPAddress") or "?"


def _launch(targets: list[Any], commands: list[list[str]], nodes: list[NodeOutcome], budget: float) -> None:
    """Run each node's torchrun at once (one thread per node); each is killed at the budget."""

    def one(index: int) -> None:
        node = nodes[index]
        try:  # RUN_ENV is in the container's environment, which every exec inherits
            result: ExecResult = targets[index].exec(commands[index], timeout=budget)
        except CommandTimeout as error:
            node.timed_out, node.output = True, _printed(str(error))
        except ImagecheckError as error:
            node.exit_code, node.output = -1, str(error)
        except docker.errors.DockerException as error:
            node.exit_code, node.output = -1, f"the Docker engine failed: {error}"
        else:
            node.exit_code, node.output = result.exit_code, result.tail(20)

    threads = [threading.Thread(target=one, args=(k,), name=f"imagecheck-torchrun-{k}", daemon=True)
               for k in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(budget + 60)


def _collect_all(targets: list[Any], out: str, outcome: DistributedRun, deadline: float) -> None:
    """Read every node's files at once, each with what is left of the limit (at least
    COLLECT_MINIMUM seconds)."""
    timeout = max(COLLECT_MINIMUM, deadline - time.monotonic())
    threads = [threading.Thread(target=_collect, args=(target, out, node, outcome),
                                kwargs={"directory": probes.IN_CONTAINER_DIR, "timeout": timeout},
                                name=f"imagecheck-collect-{node}", daemon=True)
               for node, target in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + KILL_ALLOWANCE + 5)


def _collect(target: Any, out: str, node: int, outcome: DistributedRun, *, directory: str,
             timeout: float = COLLECT_TIMEOUT, python: str = probes.PYTHON) -> None:
    try:
        data = probes.run(target, "ddp_results", [out, "12"], timeout=timeout, directory=directory,
                          python=python).data
    except ImagecheckError as error:
        outcome.nodes[node].collect_error = str(error)
        return
    except docker.errors.DockerException as error:
        outcome.nodes[node].collect_error = f"the Docker engine failed: {error}"
        return
    outcome.nodes[node].clock = data.get("now")
    for rank, entry in (data.get("ranks") or {}).items():
        outcome.ranks[int(rank)] = RankOutcome(int(rank), node, entry.get("phases") or [], entry.get("result"),
                                               entry.get("log_tail") or [], entry.get("comm_tail") or [])


# ---- explaining a failed run -----------------------------------------------------------------
def _failure(run: DistributedRun) -> str | None:
    plan_ = run.plan
    expected = (f"{plan_.world} ranks ({plan_.describe()}) finish init_process_group, an all_reduce, "
                f"{run.steps} DDP steps{' and the bandwidth run' if plan_.bandwidth_bytes else ''}")
    where = "; ".join(f"{n.where} (node {n.node})" for n in run.nodes)
    timed_out = [n for n in run.nodes if n.timed_out]
    if timed_out:
        stall = diagnose(plan_.world, run.ranks, {n.node: n.clock for n in run.nodes})
        observed = "\n    ".join([stall.summary() + ":", *stall.lines])
        return explain(
            f"torchrun in {run.image} did not finish within its {run.limit:.0f} s limit (images.yaml "
            f"timeouts.ddp) and was killed: {stall.summary()}",
            expected=expected, observed=observed + "\n  " + _last_lines(run),
            where=where,
            hint="a rank that stalls before a collective leaves every other rank waiting in it; the run's "
                 "processes were killed and its containers removed. If the image is only slow, raise "
                 "timeouts.ddp in images.yaml")
    failed = [n for n in run.nodes if n.exit_code not in (0, None)]
    missing = [r for r in range(plan_.world) if r not in run.ranks or not run.ranks[r].result]
    errors = [r for r, o in sorted(run.ranks.items()) if o.result and not o.result.get("ok")]
    if not failed and not missing and not errors:
        return None
    lines = []
    for rank in errors:
        result = run.ranks[rank].result
        lines.append(f"rank {rank} failed in '{result.get('failed_in')}': {result.get('error')}")
        lines += [f"      {line}" for line in (result.get("traceback_tail") or [])[-4:]]
    for rank in missing:
        if rank not in errors:
            last = run.ranks[rank].last_phase if rank in run.ranks else None
            lines.append(f"rank {rank}: no result" + (f" (last step '{last}')" if last else " (no step recorded)"))
    for node in failed:
        lines.append(f"torchrun on node {node.node} exited with {node.exit_code}; its last lines:\n"
                     + _indent(node.output, 6))
    for node in run.nodes:
        if node.collect_error:
            lines.append(f"the ranks' files on node {node.node} could not be read: {node.collect_error}")
    return explain(f"torchrun in {run.image} failed ({plan_.describe()})", expected=expected,
                   observed="\n    ".join(lines) + "\n  " + _last_lines(run), where=where,
                   hint="the first failing rank's error is usually the cause; the others stop with it")


def _last_lines(run: DistributedRun) -> str:
    """The last NCCL / gloo / c10d lines of every rank, else its last log lines."""
    parts = ["last NCCL/gloo lines of each rank (NCCL_DEBUG=WARN):"]
    for rank in range(run.plan.world):
        outcome = run.ranks.get(rank)
        lines = (outcome.comm_tail or outcome.log_tail)[-6:] if outcome else []
        parts.append(f"    rank {rank}:" + ("".join(f"\n      {line[:300]}" for line in lines) if lines
                                             else " (nothing logged)"))
    agents = [n for n in run.nodes if n.output]
    for node in agents:
        parts.append(f"    torchrun on node {node.node}:\n{_indent(_last_of(node.output, 8), 6)}")
    return "\n".join(parts)


def _last_of(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _printed(timeout_message: str) -> str:
    """The lines a killed command printed last, out of CommandTimeout's message."""
    _, found, rest = timeout_message.partition("last lines it printed:\n")
    return rest.split("\n  where:")[0] if found else timeout_message


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line[:300] for line in (text or "(nothing printed)").splitlines())


# ---- the host's own figure ------------------------------------------------------------------
@dataclass(frozen=True)
class HostFigure:
    """The machine's own all_reduce bus bandwidth, measured outside any container, or why not."""

    gbps: float | None
    why_not: str | None = None


def host_bandwidth(plan_: Plan, ddp: DdpSpec, limit: float, *, python: str | None = None,
                   report: Reporter | None = None) -> HostFigure:
    """The same all_reduce as the container's, run by torchrun on this host with the host's
    python and the same GPUs (CUDA_VISIBLE_DEVICES in PCI order), outside any container."""
    if plan_.device != "cuda" or len(plan_.nodes) != 1:
        return HostFigure(None, "the host figure is measured for a single-node NCCL run only")
    if not engine_is_local():
        return HostFigure(None, f"the Docker engine is not on this machine (DOCKER_HOST="
                                f"{os.environ.get('DOCKER_HOST')}), so this machine's figure says nothing of it")
    say = report or (lambda message: None)
    indices = ",".join(str(i) for i in plan_.nodes[0].indices)
    env = {**RUN_ENV, "CUDA_VISIBLE_DEVICES": indices, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    started = time.monotonic()
    with LocalHost(python) as host:
        folder = str(host.scratch / "probes")
        out = str(host.scratch / "out")
        probes.install(host, folder)
        args = worker_args(plan_, ddp, out, pg_timeout=limit, ddp_steps=False)
        command = torchrun_command([host.python, "-m", "torch.distributed.run"], plan_, f"{folder}/{WORKER}.py", args)
        say(f"the same all_reduce on the host, outside any container (GPUs {indices})")
        budget = limit - _reserve(limit)
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

