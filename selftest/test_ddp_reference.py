"""The distributed tier on this CPU-only host, in real containers of the reference image:
torchrun with gloo and two processes, on one node and across two containers as two nodes
(each with its own address on a network made for the run), passes every check; the
bandwidth check records the gloo figure and skips its NCCL floor; under --require-gpu
every check fails saying why; nothing is left behind. Every rank, on one node and on two,
sees NVLink multicast off and NCCL warnings on (the containers' environment, which the
suite does not pass again to each exec)."""
import pytest

from ddp_runs import BANDWIDTH, DDP_TESTS, MULTI, ON_GPUS_ONLY, SINGLE, junit_cases, leftovers, names, run_evidence
from helpers import REFERENCE, run_inner

# What each rank must see (imagecheck.rules.ddp_plan.RUN_ENV), written out here on purpose.
SAFETY = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1",
          "NCCL_DEBUG": "INFO", "NCCL_DEBUG_SUBSYS": "INIT,P2P,SHM,NET"}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, fixture_image):
    fixture_image(REFERENCE)
    return run_inner(tmp_path_factory.mktemp("ddp-reference"), "--image", REFERENCE, tests=DDP_TESTS,
                                timeout=1200)


def test_reference_passes_every_distributed_check_on_cpu(reference_run):
    assert reference_run.names("passed") == names(REFERENCE, (SINGLE | MULTI) - ON_GPUS_ONLY), reference_run.stdout[-4000:]
    skipped = f"{BANDWIDTH}[{REFERENCE}]"
    assert reference_run.names("skipped") == names(REFERENCE, ON_GPUS_ONLY)
    assert "gloo on CPU moved 16 MiB at" in reference_run.message(skipped)
    assert "the floor and the host's figure are for NCCL on 2 or more GPUs" in reference_run.message(skipped)


def test_evidence_shows_the_plan_the_bandwidth_and_two_addresses(reference_run):
    cases = junit_cases(reference_run.workdir)
    single = cases[f"test_all_reduce_result_is_correct_on_every_rank[{REFERENCE}]"]["properties"]
    assert single["ddp.run"]["plan"] == "gloo on CPU, 1 node(s) x 2 processes"
    assert single["ddp.all_reduce.wrong_elements"] == {"0": 0, "1": 0}
    bandwidth = cases[f"{BANDWIDTH}[{REFERENCE}]"]["properties"]
    assert float(bandwidth["perf.all_reduce.cpu_2proc.bus_bandwidth_gbps"]) > 0
    losses = cases[f"test_loss_falls_over_ddp_steps[{REFERENCE}]"]["properties"]["ddp.mean_loss"]
    assert len(losses) == 4 and losses[-1] < losses[0]
    multi = cases[f"test_two_nodes_meet_through_c10d_rendezvous[{REFERENCE}]"]["properties"]
    assert multi["ddp.run"]["network"].startswith("user-defined bridge network imagecheck-ddp-")
    addresses = [node["address"] for node in multi["ddp.nodes"]]
    assert len(set(addresses)) == 2 and all(a.count(".") == 3 for a in addresses), addresses
    assert multi["ddp.run"]["rendezvous"] == f"{addresses[0]}:29400"


def test_every_rank_sees_nvlink_multicast_off_and_nccl_warnings_on(reference_run):
    cases = junit_cases(reference_run.workdir)
    for test in (f"test_all_reduce_result_is_correct_on_every_rank[{REFERENCE}]",
                 f"test_two_nodes_meet_through_c10d_rendezvous[{REFERENCE}]"):
        seen = cases[test]["properties"]["ddp.rank_environment"]
        assert sorted(seen) == ["0", "1"], seen
        for rank, environment in seen.items():
            assert {name: environment.get(name) for name in SAFETY} == SAFETY, f"{test}, rank {rank}: {environment}"


def test_distributed_runs_leave_no_container_or_network(reference_run, docker_client):
    runs = run_evidence(junit_cases(reference_run.workdir))
    assert sorted(len(r["nodes"]) for r in runs) == [1, 2], runs
    assert leftovers(docker_client, runs) == []


def test_require_gpu_fails_every_distributed_check_on_a_cpu_host(tmp_path, fixture_image):
    fixture_image(REFERENCE)
    run = run_inner(tmp_path, "--image", REFERENCE, "--require-gpu", tests=DDP_TESTS, timeout=600)
    assert run.names("failed") == names(REFERENCE, SINGLE | MULTI), run.stdout[-3000:]
    for name in run.names("failed"):
        assert "needs 2 GPU(s), this host grants 0" in run.message(name)
        assert "--require-gpu makes that a failure" in run.message(name)
    assert run_evidence(junit_cases(tmp_path)) == [], "a distributed run started although it was bound to fail"
