"""Never hang: in pytorch-cuda:v2.6-ddp-rank-hang torchrun's rank 1 sleeps forever before
its first collective. Every distributed check must fail within the image's limit
(timeouts.ddp: 60 s), name rank 1 as the one that stalled, show each rank's last
NCCL/gloo lines, and leave no container, network or process behind."""
import time

import docker
import pytest

from ddp_runs import DDP_TESTS, HANG, MULTI, SINGLE, junit_cases, leftovers, names, processes_of, run_evidence
from helpers import labelled_containers, run_inner

from imagecheck.runtime.lifecycle import RunIdentity

LIMIT = 60


@pytest.fixture(scope="module")
def hang_run(tmp_path_factory, fixture_image):
    fixture_image(HANG)
    return run_inner(tmp_path_factory.mktemp("ddp-hang"), "--image", HANG, tests=DDP_TESTS, timeout=900)


def test_every_distributed_check_fails_naming_the_stalled_rank(hang_run):
    assert hang_run.names("failed") == names(HANG, SINGLE | MULTI), hang_run.stdout[-4000:]
    for name in hang_run.names("failed"):
        message = hang_run.message(name)
        assert f"did not finish within its {LIMIT} s limit (images.yaml timeouts.ddp) and was killed: " \
               "rank 1 stalled" in message, message
        assert "rank 1: no step recorded: it never reached the worker script" in message
        assert "waiting in 'init_process_group'" in message or "waiting in 'all_reduce'" in message
        assert "last NCCL/gloo lines of each rank (NCCL_DEBUG=INFO):" in message
        assert "[c10d]" in message, "rank 0's last c10d/gloo lines are missing"


def test_each_stalled_run_ends_within_its_limit(hang_run):
    cases = junit_cases(hang_run.workdir)
    # the first check of each module runs (and waits out) the distributed run; the rest reuse its outcome
    for module, tests in (("test_ddp", SINGLE), ("test_ddp_multinode", MULTI)):
        times = sorted((cases[n]["time"] for n in names(HANG, tests)), reverse=True)
        assert times[0] <= LIMIT + 5, f"{module}: the stalled run took {times[0]:.1f} s, its limit is {LIMIT} s"
        assert times[0] >= LIMIT * 0.6, f"{module}: the run ended after {times[0]:.1f} s: it did not wait for rank 1"
        assert all(t < 5 for t in times[1:]), f"{module}: later checks ran the stalled run again: {times}"
    assert hang_run.finished - hang_run.started < 2 * LIMIT + 90


def test_stalled_runs_leave_no_container_network_or_process(hang_run, docker_client):
    runs = run_evidence(junit_cases(hang_run.workdir))
    assert sorted(len(r["nodes"]) for r in runs) == [1, 2], runs
    assert all(r["network_name"] for r in runs if len(r["nodes"]) == 2)
    assert leftovers(docker_client, runs) == []
    assert labelled_containers(docker_client, image=HANG) == []
    assert processes_of({n["container_id"] for r in runs for n in r["nodes"]}) == []


def test_process_check_sees_a_live_container(docker_client):
    """The leftover-process check above can fail: it finds the processes of a running container."""
    labels = RunIdentity("selftest-ddp").labels(HANG, "selftest")
    container = docker_client.containers.run(HANG, ["infinity"], entrypoint=["sleep"], detach=True, labels=labels)
    try:
        deadline = time.monotonic() + 30
        while not processes_of({container.id}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_of({container.id}), "no host process found in a running container's cgroup"
    finally:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
    assert processes_of({container.id}) == []
