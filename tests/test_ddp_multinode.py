"""Multi-node training: two containers of the image as two nodes, each with its own address
on a network made for the run, meet through torchrun's c10d rendezvous; all_reduce and DDP
steps succeed across them (NCCL with the GPUs split between the nodes, gloo on CPU with one
process per node when fewer than two GPUs are granted). One run serves every check here."""
import pytest

from imagecheck.check import could_not_run, record_perf
from imagecheck.image.ddp_runs import DistributedRuns
from imagecheck.rules import ddp_results, machine_share, nccl_transport

pytestmark = [pytest.mark.slow, pytest.mark.measures]


@pytest.fixture
def ddp(ddp_runs) -> DistributedRuns:
    """The two-node torchrun run of this image, started by the first check that needs it."""
    return ddp_runs(nodes=2)


def test_two_nodes_meet_through_c10d_rendezvous(ddp, evidence):
    run = ddp.run()
    results = run.results()
    evidence("ddp.nodes", [{"node": n.node, "address": n.address} for n in run.nodes])
    per_node = {}
    for rank, outcome in sorted(run.ranks.items()):
        per_node.setdefault(outcome.node, set()).add(results[rank]["group_rank"])
    evidence("ddp.group_ranks", {node: sorted(g) for node, g in per_node.items()})
    assert {r["world_size"] for r in results.values()} == {run.plan.world} and len(results) == run.plan.world, (
        f"the rendezvous in {run.image} formed worlds of {sorted({r['world_size'] for r in results.values()})} "
        f"ranks ({len(results)} reported), expected {run.plan.world} ({run.plan.describe()})")
    groups = [g for g in per_node.values()]
    assert len(per_node) == 2 and all(len(g) == 1 for g in groups) and groups[0] != groups[1], (
        f"torchrun's node ranks per container in {run.image} are {per_node}, expected one distinct node rank "
        "per container")
    if run.network.startswith("user-defined"):
        addresses = [n.address for n in run.nodes]
        assert len(set(addresses)) == 2 and "?" not in addresses, (
            f"the two nodes of {run.image} do not have their own addresses on {run.network}: {addresses}")


def test_all_reduce_across_two_nodes_is_correct_on_every_rank(ddp, evidence):
    run = ddp.run()
    results = run.results()
    evidence("ddp.all_reduce.wrong_elements", {r: x["all_reduce"]["wrong_elements"] for r, x in results.items()})
    errors = ddp_results.all_reduce_errors(results)
    assert not errors, (f"all_reduce across two nodes gave wrong results in {run.image} "
                        f"({run.plan.describe()}):\n  " + "\n  ".join(errors))


def test_ddp_step_across_two_nodes_leaves_identical_parameters_and_gradients(ddp, evidence):
    run = ddp.run()
    results = run.results()
    evidence("ddp.first_step", {r: x["ddp"]["steps"][0]["param_digest"] for r, x in results.items()})
    problems = ddp_results.step_disagreements(results)
    assert not problems, (f"after DDP steps across two nodes of {run.image} ({run.plan.describe()}), "
                          "the ranks disagree:\n  " + "\n  ".join(problems))


def test_two_node_backend_is_nccl_on_gpus_and_gloo_on_cpu(ddp, evidence):
    run = ddp.run()
    backends = evidence("ddp.backend", {r: x.get("backend") for r, x in run.results().items()})
    wrong = {r: b for r, b in backends.items() if b != run.plan.backend}
    assert not wrong, (f"torch.distributed reports backends {wrong} across two nodes of {run.image}, the run "
                       f"asked for {run.plan.backend} ({run.plan.why})")


def test_two_node_all_reduce_reaches_the_machines_bandwidth_over_the_same_transport(ddp, evidence, image):
    """The two containers' all_reduce bandwidth is recorded (gloo on CPU too) and, over NCCL,
    judged against the same all_reduce on the host forced onto the transport the containers
    used (two nodes talk over the network, not NVLink), with the image's ddp.min_host_share."""
    run = ddp.run()
    gbps = run.bandwidth_gbps()
    assert gbps is not None, f"rank 0 of {run.image} reported no bandwidth figure for the two-node run"
    if not run.plan.shared:
        record_perf(evidence, run.plan.perf_subject, "bus_bandwidth", round(gbps, 2), "gbps")
    if run.plan.device != "cuda" or run.plan.shared:
        could_not_run(f"the two-node all_reduce reached {gbps:.2f} GB/s (recorded); it is judged against the host "
                      f"for NCCL on 2 or more GPUs not shared with another worker ({run.plan.why})",
                      {"kind": "gpus", "wanted": 2, "granted": run.plan.gpus})
    found = run.transports()
    environment = nccl_transport.forcing(nccl_transport.slowest(found))
    attempts, host = ddp.bandwidth_attempts(run, environment)
    evidence("ddp.two_node_share_attempts", {"container_transports": found, "host_environment": environment,
                                             "host_transports": list(host.transports),
                                             "attempts": [a.as_evidence() for a in attempts]})
    if all(a.host is None for a in attempts):
        could_not_run(f"the host's own all_reduce could not be measured: {host.why_not}",
                      {"kind": "host_twin", "why": host.why_not})
    problem = machine_share.shortfall(
        f"a {run.plan.bandwidth_bytes >> 20} MiB all_reduce across two containers over "
        f"{nccl_transport.describe(nccl_transport.slowest(found))}", "GB/s", attempts, image.spec.ddp.min_host_share,
        run.image, "the containers' network is slower than the host's own over the same transport: check the "
                   "image's NCCL_SOCKET_IFNAME and NCCL_SOCKET_NTHREADS settings")
    assert problem is None, problem
