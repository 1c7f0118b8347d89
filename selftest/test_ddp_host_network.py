"""Two nodes on an engine without a bridge network (GPU hosts whose dockerd runs with
--bridge=none): both containers use the host network, the rendezvous takes a port that
is free on the host, and the run passes; its containers are removed. This host's engine
has a bridge, so the engine's answer is replaced (the rest is real Docker and torchrun)."""
from pathlib import Path

import pytest

from helpers import REFERENCE

from imagecheck import config, distributed
from imagecheck.runtime import docker as docker_runtime
from imagecheck.runtime import gpu
from imagecheck.runtime.lifecycle import RunIdentity, new_run_id
from imagecheck.session import ImageUnderTest, RunContext


@pytest.fixture
def image(fixture_image):
    fixture_image(REFERENCE)
    catalog = config.load(Path(__file__).resolve().parent.parent / "images.yaml")
    spec, _ = catalog.spec_for(REFERENCE)
    context = RunContext(RunIdentity(new_run_id()), docker_runtime.connect,
                         lambda client: gpu.choose("none", "all", gpu.DEFAULT_DRIVER_DIR, client))
    under_test = ImageUnderTest(REFERENCE, spec, context)
    yield under_test
    under_test.close()


def test_two_nodes_meet_over_the_host_network_on_a_free_port(image, monkeypatch, docker_client):
    monkeypatch.setattr(distributed, "has_default_bridge", lambda client: False)
    plan = distributed.plan(image.gpu, image.spec.ddp, nodes=2)
    run = distributed.run_in_image(image, plan)
    assert run.failure is None, run.failure
    assert run.network.startswith("host network") and run.network_name is None
    host, port = run.endpoint.split(":")
    assert host == "127.0.0.1" and int(port) != distributed.RENDEZVOUS_PORT
    results = run.results()
    assert sorted(results) == [0, 1] and not distributed.all_reduce_errors(results)
    assert not distributed.step_disagreements(results)
    assert {r["group_rank"] for r in results.values()} == {0, 1}
    for node in run.nodes:
        container = docker_client.containers.list(all=True, filters={"id": node.container_id})
        assert container == [], f"{node.where} outlived the run"
