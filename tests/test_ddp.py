"""Multi-GPU training on one node: the image's torchrun runs DDP over NCCL, one process per
GPU granted (gloo on CPU with two processes when fewer than two GPUs are granted), and
its all_reduce reaches the machine's bus bandwidth. One run serves every check here."""
import pytest

from imagecheck.check import could_not_run, record_perf
from imagecheck.image.ddp_runs import DistributedRuns
from imagecheck.rules import ddp_results, machine_share, nccl_transport
from imagecheck.rules.ddp_plan import bus_bandwidth_gbps

pytestmark = [pytest.mark.slow, pytest.mark.measures]


@pytest.fixture
def ddp(ddp_runs) -> DistributedRuns:
    """The single-node torchrun run of this image, started by the first check that needs it."""
    return ddp_runs(nodes=1)


def test_all_reduce_result_is_correct_on_every_rank(ddp, evidence):
    run = ddp.run()
    results = run.results()
    evidence("ddp.all_reduce.wrong_elements", {r: x["all_reduce"]["wrong_elements"] for r, x in results.items()})
    errors = ddp_results.all_reduce_errors(results)
    assert not errors, (f"all_reduce (SUM of arange + rank) gave wrong results in {run.image} "
                        f"({run.plan.describe()}):\n  " + "\n  ".join(errors))


def test_ddp_step_leaves_identical_parameters_and_gradients_on_every_rank(ddp, evidence):
    run = ddp.run()
    results = run.results()
    first = {r: x["ddp"]["steps"][0] for r, x in results.items()}
    evidence("ddp.first_step", {r: {"param_digest": s["param_digest"], "grad_digest": s["grad_digest"]}
                                for r, s in first.items()})
    problems = ddp_results.step_disagreements(results)
    assert not problems, (f"after DDP steps of {run.image}'s torchvision {ddp.image.spec.ddp.model} "
                          f"({run.plan.describe()}), the ranks disagree:\n  " + "\n  ".join(problems) +
                          "\n  hint: DDP broadcasts rank 0's parameters and all_reduces gradients; a difference "
                          "means a collective returned different data on different ranks")


def test_loss_falls_over_ddp_steps(ddp, evidence):
    run = ddp.run()
    losses, problems = ddp_results.loss_curve(run.results())
    evidence("ddp.mean_loss", [round(v, 4) for v in losses])
    assert not problems, "the ranks disagree on the all_reduced loss:\n  " + "\n  ".join(problems)
    assert len(losses) >= 2 and losses[-1] < losses[0], (
        f"the mean loss of {len(losses)} DDP steps on a fixed batch did not fall in {run.image}: {losses}")


def test_backend_is_nccl_on_gpus_and_gloo_on_cpu(ddp, evidence):
    run = ddp.run()
    results = run.results()
    backends = evidence("ddp.backend", {r: x.get("backend") for r, x in results.items()})
    wrong = {r: b for r, b in backends.items() if b != run.plan.backend}
    assert not wrong, (f"torch.distributed reports backends {wrong} in {run.image}, the run asked for "
                       f"{run.plan.backend} ({run.plan.why})")
    if run.plan.device == "cuda":
        devices = evidence("ddp.devices", {r: x.get("device") for r, x in results.items()})
        evidence("ddp.nccl_version", sorted({x.get("nccl_version") for x in results.values()}))
        uuids = [d.get("uuid") or f"index {d.get('index')}" for d in devices.values()]
        assert len(set(uuids)) == len(uuids), f"two ranks share a GPU in {run.image}: {devices}"


def test_all_reduce_bus_bandwidth_meets_the_floor(ddp, evidence):
    run = ddp.run()
    plan = run.plan
    figure = run.results()[0].get("bandwidth")
    assert figure, f"rank 0 of {run.image} reported no bandwidth figure"
    gbps = bus_bandwidth_gbps(figure["bytes"], figure["seconds_per_op"], figure["world_size"])
    evidence("ddp.bandwidth", {"bytes": figure["bytes"], "seconds_per_op": figure["seconds_per_op"],
                               "world_size": figure["world_size"], "backend": plan.backend})
    if plan.shared:  # another xdist worker uses the same GPUs: the figure is not the image's
        evidence("ddp.bus_bandwidth_on_shared_gpus", {
            "gbps": round(gbps, 2), "note": "measured on GPUs shared with another xdist worker: "
                                            "not judged, not a perf figure (no baseline)"})
        could_not_run(f"the all_reduce reached {gbps:.1f} GB/s on GPUs shared with another xdist worker "
                    f"({ddp.image.gpu.describe()}): the image's bandwidth could not be measured here; "
                      "run without -n, or with at most GPUs / 2 workers", {"kind": "exclusive_gpus"})
    record_perf(evidence, plan.perf_subject, "bus_bandwidth", round(gbps, 2), "gbps")
    if plan.device != "cuda":
        could_not_run(f"gloo on CPU moved {figure['bytes'] >> 20} MiB at {gbps:.2f} GB/s bus bandwidth (recorded); "
                      f"the floor and the host's figure are for NCCL on 2 or more GPUs ({plan.why})",
                      {"kind": "gpus", "wanted": 2, "granted": plan.gpus})
    host = ddp.host_figure(plan)
    if host.gbps:
        record_perf(evidence, f"{plan.perf_subject}.host", "bus_bandwidth", round(host.gbps, 2), "gbps")
        record_perf(evidence, plan.perf_subject, "host_share", round(gbps / host.gbps, 3), "x")
    else:
        evidence("ddp.host_bandwidth", f"not measured: {host.why_not}")
    floor = ddp.image.spec.ddp.min_bus_bandwidth_gbps
    if floor is not None:
        share = f" (the host itself: {host.gbps:.1f} GB/s)" if host.gbps else ""
        assert gbps >= floor, (f"a {figure['bytes'] >> 20} MiB all_reduce over NCCL on {plan.gpus} GPUs in {run.image} "
                               f"reached {gbps:.1f} GB/s bus bandwidth{share}, images.yaml expects at least {floor}"
                               "\n  hint: check --ipc/--shm-size in the image's run options and NCCL_P2P/SHM "
                               "settings in its environment")


def _needs_nccl(run) -> None:
    """The machine's twin and NCCL's transports are for NCCL on GPUs; gloo on CPU has neither."""
    plan = run.plan
    if plan.device != "cuda":
        could_not_run(f"the share of the machine's bandwidth and NCCL's transport are judged for NCCL on 2 or more "
                      f"GPUs ({plan.why})", {"kind": "gpus", "wanted": 2, "granted": plan.gpus})
    if plan.shared:
        could_not_run("the GPUs are shared with another xdist worker: neither the figure nor its twin is the "
                      "machine's; run without -n, or with at most GPUs / 2 workers", {"kind": "exclusive_gpus"})


def test_all_reduce_reaches_the_machines_bandwidth(ddp, evidence, image):
    """The container's NCCL all_reduce reaches images.yaml's share (ddp.min_host_share) of the
    same all_reduce run on the host itself, on the same GPUs, in the same run; a low share is
    measured again (both sides) before it fails."""
    run = ddp.run()
    _needs_nccl(run)
    attempts, host = ddp.bandwidth_attempts(run)
    evidence("ddp.bandwidth_share_attempts", [a.as_evidence() for a in attempts])
    if all(a.host is None for a in attempts):
        could_not_run(f"the host's own all_reduce could not be measured: {host.why_not}",
                      {"kind": "host_twin", "why": host.why_not})
    found = run.transports()
    steering = nccl_transport.steering(image.config.get("Env"))
    hint = ("the container uses " + nccl_transport.describe(nccl_transport.slowest(found)) +
            (f"; the image's environment sets {', '.join(f'{k}={v}' for k, v in steering.items())}, which steer "
             "NCCL away from its fastest transport: remove them" if steering else
             "; check --ipc/--shm-size in the image's run options"))
    problem = machine_share.shortfall(
        f"a {run.plan.bandwidth_bytes >> 20} MiB all_reduce over NCCL on {run.plan.gpus} GPUs", "GB/s", attempts,
        image.spec.ddp.min_host_share, run.image, hint)
    assert problem is None, problem


def test_nccl_uses_the_transport_the_host_offers(ddp, evidence, image):
    """NCCL in the container picks as fast a transport between the GPUs as it picks on the
    host itself for the same GPUs (P2P over NVLink or PCIe, then SHM, then the network), read
    from NCCL's own log; the variable of the image's environment that steered it is named."""
    run = ddp.run()
    _needs_nccl(run)
    found = run.transports()
    host = ddp.host_figure(run.plan)
    steering = nccl_transport.steering(image.config.get("Env"))
    evidence("nccl.transports", {"container": found, "host": list(host.transports), "image_environment": steering})
    assert found, (f"NCCL named no transport in the ranks' logs of {run.image} although NCCL_DEBUG=INFO was set"
                   "\n  hint: the image's NCCL may be too old to log its transports, or its logging is off "
                   "(NCCL_DEBUG_FILE, NCCL_DEBUG_SUBSYS in its environment)")
    if not host.transports:
        could_not_run(f"the host's own transports could not be read: {host.why_not or 'NCCL named none'}",
                      {"kind": "host_twin", "why": host.why_not})
    mine, theirs = nccl_transport.slowest(found), nccl_transport.slowest(list(host.transports))
    assert not nccl_transport.slower_than_the_host(found, list(host.transports)), (
        f"NCCL in {run.image} uses a slower transport than the host offers the same {run.plan.gpus} GPUs\n"
        f"  expected: {nccl_transport.describe(theirs)} (what NCCL picks on this host outside the image)\n"
        f"  observed: {nccl_transport.describe(mine)} (every transport seen: {', '.join(found)})\n"
        f"  where: the ranks' NCCL logs (NCCL_DEBUG=INFO, subsystems INIT,P2P,SHM,NET)\n"
        "  hint: " + (f"the image's environment sets {', '.join(f'{k}={v}' for k, v in steering.items())}: remove "
                      "them (a workaround for another machine slows this one)" if steering else
                      "look for NCCL_* settings in the entrypoint or an nccl.conf in the image"))
