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
container's start to the last result read, is timeouts.ddp plus the runtime's
KILL_ALLOWANCE (35 s: two kill commands, as root and as the run's user, bounded at 15 s
each, then 5 s for its output) for each command that has to be killed, torchrun and then
a read that hangs: at most timeouts.ddp + 75 s; removing the containers and the network
comes after. NCCL_DEBUG=INFO (INIT,P2P,SHM,NET: the transports NCCL picks) is set for every
run, and NVLink multicast is kept off in every container and host process
(NCCL_NVLS_ENABLE=0 and friends): on shared multi-GPU hosts a program that uses it can
take the GPUs down. Each rank reports these variables as it sees them.

The plan is rules/ddp_plan.py, the judgment of what the ranks left rules/ddp_results.py.

Plans: with two or more GPUs granted, NCCL with one process per GPU (two nodes: the
GPUs split between the nodes); with fewer, gloo on CPU with `ddp.cpu_processes`
processes, so every CI run exercises torchrun, rendezvous and DDP in real containers.
Two nodes are two containers on a user-defined Docker network made (and removed) for
the run, each with its own address, meeting through a c10d rendezvous; an engine
without a bridge network gets `--network host` and a free port instead.
"""
from __future__ import annotations

import contextlib
import threading
import time
import uuid
from typing import Any, Callable

import docker.errors

from ..errors import CommandTimeout, DistributedError, ImagecheckError, explain
from ..rules import nccl_transport
from ..rules.ddp_plan import RUN_ENV, Plan, torchrun_command, worker_args
from ..rules.ddp_results import DistributedRun, NodeOutcome, RankOutcome, failure_message, printed
from ..runtime.container import KILL_ALLOWANCE, Container
from ..runtime.network import NodeNetwork, node_network, single_node_network
from ..runtime.target import ExecResult, Target
from . import probes
from .under_test import ImageUnderTest

RENDEZVOUS_PORT = 29400
WORKER = "ddp_worker"
# What the reserve at the end of a run is for: reading the ranks' files.
COLLECT_TIMEOUT = 30.0
COLLECT_MINIMUM = 5.0
Reporter = Callable[[str], Any]


def run_in_image(image: ImageUnderTest, plan: Plan, *, report: Reporter | None = None,
                 ddp_steps: bool = True) -> DistributedRun:
    """torchrun in containers of the image, per the plan; containers (and the network)
    are gone when this returns, whatever happened. ddp_steps=False: the all_reduce checks
    and the bandwidth only (a second measurement of the bandwidth)."""
    spec = image.spec
    limit = float(spec.timeouts.ddp)
    started = time.monotonic()
    deadline = started + limit
    tag = uuid.uuid4().hex[:8]
    out = f"/tmp/imagecheck-ddp-{tag}"
    nodes = len(plan.nodes)
    outcome = DistributedRun(image.ref, plan, limit, "container default" if nodes == 1 else "",
                             spec.ddp.steps if ddp_steps else 0)
    say = report or (lambda message: None)
    with contextlib.ExitStack() as stack:
        network = None
        if nodes > 1:
            identity = image.context.identity
            network = stack.enter_context(node_network(image.context.client, identity.labels(image.ref, "ddp-network"),
                                                       f"imagecheck-ddp-{identity.run_id}-{tag}"))
        if network is not None:
            outcome.network, outcome.network_name = network.describe(), network.name
        containers: list[Container] = []
        for node, access in enumerate(plan.nodes):
            env = {**RUN_ENV, **({"NCCL_HOSTID": f"imagecheck-node{node}-{tag}"} if nodes > 1 else {})}
            containers.append(stack.enter_context(image.probe_container(
                f"ddp-node{node}", gpu=access, environment=env,
                **(network.container_kwargs(node) if network else single_node_network(image.context.client)))))
        addresses = [_address(c, network) for c in containers]
        endpoint = None
        if nodes > 1:
            port = RENDEZVOUS_PORT
            if network.mode == "host":
                port = probes.run(containers[0], "ddp_free_port", timeout=COLLECT_TIMEOUT).data["port"]
                addresses = [f"host network, node {k}" for k in range(nodes)]
            host = "127.0.0.1" if network.mode == "host" else addresses[0]
            endpoint = outcome.endpoint = f"{host}:{port}"
        budget = deadline - time.monotonic() - reserve(limit)
        if budget < 10:
            raise DistributedError(explain(
                f"no time left for torchrun in {image.ref}", expected=f"the run to fit in {limit:.0f} s",
                observed=f"{time.monotonic() - started:.0f} s went to starting {nodes} container(s)",
                hint="raise timeouts.ddp in images.yaml"))
        args = worker_args(plan, spec.ddp, out, pg_timeout=limit, ddp_steps=ddp_steps)
        script = f"{probes.IN_CONTAINER_DIR}/{WORKER}.py"
        commands = [torchrun_command(["torchrun"], plan, script, args, node=k, endpoint=endpoint,
                                     rdzv_id=f"imagecheck-{tag}", join_timeout=limit) for k in range(nodes)]
        outcome.nodes = [NodeOutcome(k, containers[k].name, addresses[k], containers[k].id) for k in range(nodes)]
        say(f"torchrun: {plan.describe()} ({budget:.0f} s left of timeouts.ddp {limit:.0f} s)")
        _launch(containers, commands, outcome.nodes, budget)
        _collect_all(containers, out, outcome, deadline)
    outcome.seconds = time.monotonic() - started
    outcome.failure = failure_message(outcome)
    return outcome


def reserve(limit: float) -> float:
    return min(COLLECT_TIMEOUT, max(5.0, limit * 0.15))


def _address(container: Container, network: NodeNetwork | None) -> str:
    if network is None or network.mode != "bridge":
        return container.name
    attrs = container.reload()
    return ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).get(network.name, {}).get("IPAddress") or "?"


def _launch(targets: list[Target], commands: list[list[str]], nodes: list[NodeOutcome], budget: float) -> None:
    """Run each node's torchrun at once (one thread per node); each is killed at the budget."""

    def one(index: int) -> None:
        node = nodes[index]
        try:  # RUN_ENV is in the container's environment, which every exec inherits
            result: ExecResult = targets[index].exec(commands[index], timeout=budget)
        except CommandTimeout as error:
            node.timed_out, node.output = True, printed(str(error))
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
        thread.join(budget + KILL_ALLOWANCE + 5)


def _collect_all(targets: list[Target], out: str, outcome: DistributedRun, deadline: float) -> None:
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


def _collect(target: Target, out: str, node: int, outcome: DistributedRun, *, directory: str,
             timeout: float = COLLECT_TIMEOUT, python: str = probes.PYTHON) -> None:
    try:
        data = probes.run(target, "ddp_results", [out, "12", nccl_transport.VIA.pattern], timeout=timeout,
                          directory=directory, python=python).data
    except ImagecheckError as error:
        outcome.nodes[node].collect_error = str(error)
        return
    except docker.errors.DockerException as error:
        outcome.nodes[node].collect_error = f"the Docker engine failed: {error}"
        return
    outcome.nodes[node].clock = data.get("now")
    for rank, entry in (data.get("ranks") or {}).items():
        outcome.ranks[int(rank)] = RankOutcome(int(rank), node, entry.get("phases") or [], entry.get("result"),
                                               entry.get("log_tail") or [], entry.get("comm_tail") or [],
                                               entry.get("transport_lines") or [])
