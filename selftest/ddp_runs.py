"""What the distributed tier's self-tests share: the check names, the evidence an inner
run recorded (JUnit properties), and what a run may have left on the engine or the host."""
from __future__ import annotations

from pathlib import Path

import docker

import helpers

DDP_TESTS = ("tests/test_ddp.py", "tests/test_ddp_multinode.py")
SINGLE = {"test_all_reduce_result_is_correct_on_every_rank",
          "test_ddp_step_leaves_identical_parameters_and_gradients_on_every_rank",
          "test_loss_falls_over_ddp_steps", "test_backend_is_nccl_on_gpus_and_gloo_on_cpu",
          "test_all_reduce_bus_bandwidth_meets_the_floor", "test_all_reduce_reaches_the_machines_bandwidth",
          "test_nccl_uses_the_transport_the_host_offers"}
MULTI = {"test_two_nodes_meet_through_c10d_rendezvous", "test_all_reduce_across_two_nodes_is_correct_on_every_rank",
         "test_ddp_step_across_two_nodes_leaves_identical_parameters_and_gradients",
         "test_two_node_backend_is_nccl_on_gpus_and_gloo_on_cpu",
         "test_two_node_all_reduce_reaches_the_machines_bandwidth_over_the_same_transport"}
BANDWIDTH = "test_all_reduce_bus_bandwidth_meets_the_floor"
# Judged for NCCL on GPUs only (the floor, the machine's twin, NCCL's transport): on CPU they
# record what gloo did and skip, saying so.
ON_GPUS_ONLY = {BANDWIDTH, "test_all_reduce_reaches_the_machines_bandwidth", "test_nccl_uses_the_transport_the_host_offers",
                "test_two_node_all_reduce_reaches_the_machines_bandwidth_over_the_same_transport"}
HANG = "pytorch-cuda:v2.6-ddp-rank-hang"


def names(ref: str, tests: set[str]) -> set[str]:
    return {f"{name}[{ref}]" for name in tests}


def junit_cases(workdir: Path) -> dict[str, dict]:
    """Every test case of the inner runs in workdir (helpers.junit_cases): its time, its file
    and its properties, by name."""
    return {case.name: {"time": case.time, "file": case.file, "properties": case.properties}
            for path in sorted(workdir.glob("junit-*.xml")) for case in helpers.junit_cases(path)}


def run_evidence(cases: dict[str, dict]) -> list[dict]:
    """The distinct distributed runs the inner run's checks recorded (evidence ddp.run)."""
    runs = {}
    for case in cases.values():
        run = case["properties"].get("ddp.run")
        if isinstance(run, dict):
            runs[tuple(n["container_id"] for n in run["nodes"])] = run
    return list(runs.values())


def leftovers(client: docker.DockerClient, runs: list[dict]) -> list[str]:
    """The containers and networks of these runs that still exist (the engine's event log
    is too short to trust on a busy machine; the runs' own evidence names them)."""
    found = []
    for run in runs:
        for node in run["nodes"]:
            try:
                found.append(f"container {client.containers.get(node['container_id']).name}")
            except docker.errors.NotFound:
                pass
        if run.get("network_name"):
            found += [f"network {n.name}" for n in client.networks.list(names=[run["network_name"]])]
    return found


def processes_of(container_ids: set[str]) -> list[str]:
    """Host processes still living in the cgroups of these containers (none once removed)."""
    alive = []
    for cgroup in Path("/proc").glob("[0-9]*/cgroup"):
        try:
            text = cgroup.read_text()
        except OSError:
            continue
        if any(cid in text for cid in container_ids):
            try:
                command = (cgroup.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                command = "?"
            alive.append(f"pid {cgroup.parent.name}: {command.strip()[:120]}")
    return alive
