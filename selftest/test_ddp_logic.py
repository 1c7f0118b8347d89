"""The distributed tier's pure logic: the bus bandwidth formula, the plans, the torchrun
command lines, naming the stalled rank, judging the ranks' results, a run that fails
with a raw Docker error, and each xdist worker's share of the GPUs. No Docker engine here;
the behaviour runs in the other test_ddp_*."""
from dataclasses import replace
from types import SimpleNamespace

import docker.errors
import pytest

from imagecheck.config import DdpSpec
from imagecheck.image.ddp_runs import DistributedRuns
from imagecheck.image.memo import OncePerImage
from imagecheck.rules import ddp_plan, ddp_results, machine_share, nccl_transport
from imagecheck.rules.ddp_results import DistributedRun, NodeOutcome, RankOutcome
from imagecheck.errors import ImagecheckError
from imagecheck.rules.perf import parse
from imagecheck.runtime.gpu import GpuAccess, worker_share

FOUR = GpuAccess("devices", "--gpu-mode devices", (0, 1, 2, 3))
TWO = FOUR.subset((0, 1))
NONE = GpuAccess("none", "auto: no GPU")


# ---- bandwidth ---------------------------------------------------------------------------
def test_bus_bandwidth_is_the_nccl_tests_formula():
    # nccl-tests: busbw = algbw * 2(n-1)/n; on 2 ranks bus bandwidth equals algorithm bandwidth
    assert ddp_plan.bus_bandwidth_gbps(2**30, 2**30 / 330e9, 2) == pytest.approx(330.0)
    assert ddp_plan.bus_bandwidth_gbps(1e9, 0.01, 8) == pytest.approx(100.0 * 2 * 7 / 8)
    assert ddp_plan.bus_bandwidth_gbps(1e9, 1.0, 1) == 0.0
    with pytest.raises(ValueError):
        ddp_plan.bus_bandwidth_gbps(1e9, 0.0, 2)


def test_bandwidth_evidence_keys_follow_the_perf_convention():
    gpu = ddp_plan.plan_for(FOUR.subset((0, 1)), DdpSpec())
    cpu = ddp_plan.plan_for(NONE, DdpSpec())
    assert gpu.perf_subject == "all_reduce.2gpu" and cpu.perf_subject == "all_reduce.cpu_2proc"
    key = parse(f"perf.{gpu.perf_subject}.bus_bandwidth_gbps")
    assert key and key.direction == "higher" and key.unit_label == "GB/s"
    assert parse(f"perf.{gpu.perf_subject}.host_share_x").direction == "higher"


# ---- plans and commands ------------------------------------------------------------------
def test_two_or_more_gpus_plan_nccl_with_one_process_per_gpu():
    one = ddp_plan.plan_for(FOUR, DdpSpec())
    assert (one.backend, one.device, one.procs_per_node, one.world, one.bandwidth_bytes) == \
        ("nccl", "cuda", 4, 4, 1 << 30)
    two = ddp_plan.plan_for(FOUR, DdpSpec(), nodes=2)
    assert [n.indices for n in two.nodes] == [(0, 1), (2, 3)] and two.procs_per_node == 2
    assert two.bandwidth_bytes == 1 << 30  # two nodes measure their all_reduce too
    assert (one.perf_subject, two.perf_subject) == ("all_reduce.4gpu", "all_reduce.2node_4gpu")


def test_fewer_than_two_gpus_plan_gloo_on_cpu_with_two_processes():
    for access in (NONE, FOUR.subset((0,))):
        single = ddp_plan.plan_for(access, DdpSpec())
        assert (single.backend, single.device, single.world, single.procs_per_node) == ("gloo", "cpu", 2, 2)
        assert all(n.granted == 0 for n in single.nodes) and "NCCL needs 2" in single.why
        double = ddp_plan.plan_for(access, DdpSpec(), nodes=2)
        assert (double.world, double.procs_per_node, len(double.nodes)) == (2, 1, 2)


def test_torchrun_commands_bound_restarts_and_use_c10d_for_two_nodes():
    plan = ddp_plan.plan_for(NONE, DdpSpec(), nodes=2)
    node1 = ddp_plan.torchrun_command(["torchrun"], plan, "/w.py", {"a": 1}, node=1,
                                         endpoint="10.0.0.2:29400", rdzv_id="x", join_timeout=60)
    assert "--max-restarts=0" in node1 and "--nnodes=2" in node1 and "--rdzv-backend=c10d" in node1
    assert "--rdzv-endpoint=10.0.0.2:29400" in node1 and "--rdzv-conf=is_host=0,join_timeout=60" in node1
    assert node1[-2:] == ["/w.py", '{"a": 1}']
    single = ddp_plan.torchrun_command(["torchrun"], ddp_plan.plan_for(NONE, DdpSpec()), "/w.py", {})
    assert "--standalone" in single and "--nproc-per-node=2" in single


def test_a_plan_on_gpus_shared_with_another_worker_says_so():
    assert ddp_plan.plan_for(replace(FOUR, shared=True), DdpSpec()).shared
    assert not ddp_plan.plan_for(FOUR, DdpSpec()).shared
    # gloo on CPU uses no GPU, shared or not: its figure is the CPU's
    assert not ddp_plan.plan_for(replace(FOUR.subset((0,)), shared=True), DdpSpec()).shared


# ---- naming the stalled rank ---------------------------------------------------------------
def _phases(*names, t=100.0):
    return [{"seq": i + 1, "phase": n, "t": t} for i, n in enumerate(names)]


def _rank(rank, node, *names):
    return RankOutcome(rank, node, _phases(*names), None, [], [])


def test_the_rank_that_got_least_far_is_named_as_stalled():
    ranks = {0: _rank(0, 0, "start", "import", "init_process_group", "all_reduce"),
             1: _rank(1, 0, "start", "import", "init_process_group"),
             2: _rank(2, 0, "start", "import", "init_process_group", "all_reduce")}
    stall = ddp_results.diagnose(3, ranks, {0: 130.0})
    assert stall.stalled == (1,) and not stall.every_rank and stall.summary() == "rank 1 stalled"
    assert "rank 1 (node 0): stalled in 'init_process_group' for 30 s" in stall.lines[1]
    assert "rank 0 (node 0): waiting in 'all_reduce'" in stall.lines[0]


def test_a_rank_with_no_step_never_reached_the_worker_script():
    stall = ddp_results.diagnose(2, {0: _rank(0, 0, "start", "import", "init_process_group")})
    assert stall.stalled == (1,)
    assert "rank 1: no step recorded: it never reached the worker script" in stall.lines[1]


def test_no_rank_with_a_step_is_not_called_a_collective_that_never_completed():
    stall = ddp_results.diagnose(2, {})
    assert stall.stalled == (0, 1) and stall.reached_nothing
    assert stall.summary() == "no rank reached the worker script (ranks 0, 1): none reported a step"


def test_ranks_stuck_at_the_same_step_are_all_named():
    ranks = {r: _rank(r, r, "start", "all_reduce") for r in range(2)}
    stall = ddp_results.diagnose(2, ranks)
    assert stall.stalled == (0, 1) and stall.every_rank and "never completed" in stall.summary()


def test_a_killed_run_explains_the_stall_with_the_last_nccl_lines():
    plan = ddp_plan.plan_for(NONE, DdpSpec())
    run = DistributedRun("img:1", plan, 60.0, "container default", steps=4)
    run.nodes = [NodeOutcome(0, "container c1", "c1", timed_out=True, output="agent line", clock=150.0)]
    run.ranks = {0: RankOutcome(0, 0, _phases("start", "init_process_group"), None, ["x"],
                                ["[c10d] The client socket has connected to [::1]:4000"])}
    message = ddp_results.failure_message(run)
    assert message.startswith("torchrun in img:1 did not finish within its 60 s limit (images.yaml "
                              "timeouts.ddp) and was killed: rank 1 stalled")
    assert "rank 0 (node 0): waiting in 'init_process_group' for 50 s" in message
    assert "last NCCL/gloo lines of each rank" in message and "The client socket has connected" in message
    assert "rank 1: (nothing logged)" in message and "agent line" in message


def test_a_rank_that_raised_is_named_with_its_error():
    plan = ddp_plan.plan_for(NONE, DdpSpec())
    run = DistributedRun("img:1", plan, 60.0, "container default", steps=4)
    run.nodes = [NodeOutcome(0, "container c1", "c1", exit_code=1, output="ChildFailedError")]
    ok = {"ok": True, "all_reduce": {"ok": True}}
    run.ranks = {0: RankOutcome(0, 0, _phases("start"), ok, [], []),
                 1: RankOutcome(1, 0, _phases("start", "init_process_group"),
                                {"ok": False, "failed_in": "init_process_group",
                                 "error": "RuntimeError: Distributed package doesn't have NCCL built in"}, [], [])}
    message = ddp_results.failure_message(run)
    assert "rank 1 failed in 'init_process_group': RuntimeError: Distributed package" in message
    assert "torchrun on node 0 exited with 1" in message
    run.nodes[0].exit_code, run.ranks[1] = 0, RankOutcome(1, 0, _phases("start"), ok, [], [])
    assert ddp_results.failure_message(run) is None


# ---- judging results ------------------------------------------------------------------------
def _step(step, param="p", grad="g", pdiff=0.0, gdiff=0.0, loss=1.0):
    return {"step": step, "param_digest": param, "grad_digest": grad, "param_max_diff_to_rank0": pdiff,
            "grad_max_diff_to_rank0": gdiff, "mean_loss": loss}


def test_identical_digests_pass_and_any_difference_is_reported():
    same = {r: {"ddp": {"steps": [_step(1), _step(2)]}} for r in range(2)}
    assert ddp_results.step_disagreements(same) == []
    differ = {0: {"ddp": {"steps": [_step(1)]}}, 1: {"ddp": {"steps": [_step(1, param="q")]}}}
    assert ddp_results.step_disagreements(differ)[0].startswith("step 1: parameters differ between ranks")
    drift = {0: {"ddp": {"steps": [_step(1)]}}, 1: {"ddp": {"steps": [_step(1, gdiff=1e-3)]}}}
    assert "gradients differ from rank 0's by up to 0.001" in ddp_results.step_disagreements(drift)[0]
    short = {0: {"ddp": {"steps": [_step(1)]}}, 1: {"ddp": {"steps": []}}}
    assert "different numbers of DDP steps" in ddp_results.step_disagreements(short)[0]


def test_all_reduce_errors_name_the_rank_and_the_values():
    results = {0: {"all_reduce": {"ok": True}},
               1: {"all_reduce": {"ok": False, "elements": 8, "wrong_elements": 3, "first": [2.0, 1.0],
                                  "last": [15.0, 15.0]}}}
    assert ddp_results.all_reduce_errors(results) == [
        "rank 1: 3 of 8 elements wrong (first: got 2.0, expected 1.0; last: got 15.0, expected 15.0)"]


def test_loss_curve_is_rank_zeros_and_disagreement_is_reported():
    agree = {r: {"ddp": {"steps": [_step(1, loss=2.0), _step(2, loss=1.0)]}} for r in range(2)}
    assert ddp_results.loss_curve(agree) == ([2.0, 1.0], [])
    agree[1]["ddp"]["steps"][1]["mean_loss"] = 1.5
    assert ddp_results.loss_curve(agree)[1] == ["rank 1 saw mean losses [2.0, 1.5], rank 0 saw [2.0, 1.0]"]


# ---- a raw Docker error ---------------------------------------------------------------------
def test_a_docker_error_is_cached_as_a_failure_with_its_message():
    """A run that dies of a raw Docker error (a network or container that cannot be removed,
    put_archive) fails every check of its layout with that message, and runs only once."""
    calls = []

    def make():
        calls.append(1)
        raise docker.errors.APIError("error while removing network: network x has active endpoints")

    memo = OncePerImage("img:1")
    image = SimpleNamespace(ref="img:1", shared=memo.get)
    runs = DistributedRuns(image, require_gpus=None, progress=None, evidence=None, release=False, worker="main")
    seen = []
    for _ in range(2):
        with pytest.raises(ImagecheckError) as caught:
            image.shared(("torchrun", 2), make, translate=runs._engine_failure)
        seen.append(str(caught.value))
    assert len(calls) == 1 and seen[1].startswith(seen[0])
    assert "the Docker engine failed during the distributed run of img:1" in seen[0]
    assert "has active endpoints" in seen[0]


# ---- xdist: each worker's share of the GPUs ----------------------------------------------------
def test_with_at_least_as_many_gpus_as_workers_the_shares_are_disjoint():
    assert [worker_share(FOUR, f"gw{i}", 2).indices for i in range(2)] == [(0, 1), (2, 3)]
    assert "xdist worker gw1 of 2: GPUs 2,3 of 0,1,2,3" in worker_share(FOUR, "gw1", 2).reason
    assert [worker_share(FOUR, f"gw{i}", 3).indices for i in range(3)] == [(0,), (1,), (2,)]  # GPU 3 unused
    assert [worker_share(TWO, f"gw{i}", 2).indices for i in range(2)] == [(0,), (1,)]
    for access, workers in ((FOUR, 2), (FOUR, 3), (TWO, 2)):
        shares = [worker_share(access, f"gw{i}", workers) for i in range(workers)]
        assert not any(s.shared for s in shares) and "shared" not in shares[0].describe()


def test_with_fewer_gpus_than_workers_the_shares_wrap_and_are_marked_shared():
    three = [worker_share(TWO, f"gw{i}", 3) for i in range(3)]  # -n 3 on 2 GPUs
    assert [s.indices for s in three] == [(0,), (1,), (0,)]
    assert [s.shared for s in three] == [True, False, True]
    assert "shared with another xdist worker (timings overlap)" in three[2].describe()
    one = [worker_share(FOUR.subset((0,)), f"gw{i}", 3) for i in range(3)]  # 1 GPU, 3 workers
    assert [s.indices for s in one] == [(0,)] * 3 and all(s.shared for s in one)
    assert one[1].subset((0,)).shared and not one[1].subset(()).shared


def test_without_xdist_or_gpus_the_access_is_unchanged():
    assert worker_share(FOUR, None, None) is FOUR and worker_share(FOUR, "gw0", 1) is FOUR
    assert worker_share(NONE, "gw1", 2) is NONE


# ---- the machine's twin and NCCL's transports --------------------------------------------------
NCCL_LOG = ["host:1:1 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[1] via P2P/CUMEM/read",
            "host:1:1 [0] NCCL INFO Channel 01/0 : 0[0] -> 1[1] via P2P/CUMEM/read",
            "host:2:2 [1] NCCL INFO Channel 00/0 : 1[1] -> 0[0] via SHM/direct/direct",
            "host:2:2 [1] NCCL INFO Connected all rings"]


def test_nccl_transports_are_read_from_its_log_and_ranked():
    assert nccl_transport.transports(NCCL_LOG) == ["P2P/CUMEM/read", "SHM/direct/direct"]
    assert nccl_transport.slowest(nccl_transport.transports(NCCL_LOG)) == "SHM/direct/direct"
    assert nccl_transport.transports(["NCCL INFO Channel 00/0 : 0[0] -> 1[1] via NET/Socket/0"]) == ["NET/Socket/0"]
    ranks = [nccl_transport.rank(t) for t in ("P2P/IPC", "SHM/direct", "NET/IB/0", "NET/Socket/0")]
    assert ranks == sorted(ranks) and len(set(ranks)) == 4
    assert nccl_transport.slower_than_the_host(["NET/Socket/0"], ["P2P/CUMEM/read"])
    assert not nccl_transport.slower_than_the_host(["P2P/CUMEM/read"], ["P2P/IPC/read"])
    assert not nccl_transport.slower_than_the_host([], ["P2P/CUMEM/read"])  # nothing read: judged elsewhere
    assert nccl_transport.describe("P2P/CUMEM/read").startswith("P2P/CUMEM/read: P2P (GPU to GPU")


def test_the_variables_that_steer_nccl_are_named_and_the_host_forced_onto_the_same_transport():
    env = ["PATH=/usr/bin", "NCCL_P2P_DISABLE=1", "NCCL_SHM_DISABLE=1", "NCCL_DEBUG=WARN"]
    assert nccl_transport.steering(env) == {"NCCL_P2P_DISABLE": "1", "NCCL_SHM_DISABLE": "1"}
    assert nccl_transport.forcing("NET/Socket/0") == {"NCCL_P2P_DISABLE": "1", "NCCL_SHM_DISABLE": "1"}
    assert nccl_transport.forcing("SHM/direct/direct") == {"NCCL_P2P_DISABLE": "1"}
    assert nccl_transport.forcing("P2P/CUMEM/read") == {} and nccl_transport.forcing(None) == {}


def test_a_low_share_is_measured_again_once_and_judged_by_the_best_attempt():
    low, good = machine_share.Attempt(3.5, 327.5), machine_share.Attempt(320.0, 327.5)
    assert machine_share.needs_another([low], 0.9) and not machine_share.needs_another([good], 0.9)
    assert not machine_share.needs_another([low, low], 0.9)  # two attempts in all
    assert machine_share.shortfall("an all_reduce", "GB/s", [low, good], 0.9, "img", "hint") is None
    message = machine_share.shortfall("an all_reduce", "GB/s", [low, low], 0.9, "img:1", "remove NCCL_P2P_DISABLE")
    assert message.startswith("an all_reduce in img:1 reaches 0.01 of the machine's own figure, below the floor of 0.9")
    assert message.count("attempt ") == 2 and "3.5 GB/s in the container, 327.5 GB/s on the host (share 0.011)" in message
    assert "hint: remove NCCL_P2P_DISABLE" in message
    unmeasured = machine_share.Attempt(300.0, None)
    assert unmeasured.share is None and machine_share.best([unmeasured]) is None
    assert not machine_share.needs_another([unmeasured], 0.9)
