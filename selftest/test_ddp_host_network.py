"""The two-node run's network. On an engine without a bridge network (GPU hosts whose
dockerd runs with --bridge=none): both containers use the host network, the rendezvous
takes a port that is free on the host, and the run passes; its containers are removed.
This host's engine has a bridge, so the engine's answer is replaced there (the rest is
real Docker and torchrun). On a bridge: a network that cannot be removed (a container
still on it) never hides the run's own error, and alone it is a DistributedError."""
from pathlib import Path

import pytest

from helpers import REFERENCE

from imagecheck import config
from imagecheck.errors import DistributedError
from imagecheck.image import torchrun
from imagecheck.rules import ddp_plan, ddp_results
from imagecheck.runtime import engine as docker_runtime
from imagecheck.runtime import network as node_networks
from imagecheck.runtime import gpu
from imagecheck.runtime.lifecycle import RunIdentity, new_run_id
from imagecheck.image.run_context import RunContext
from imagecheck.image.under_test import ImageUnderTest


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
    monkeypatch.setattr(node_networks, "has_default_bridge", lambda client: False)
    plan = ddp_plan.plan_for(image.gpu, image.spec.ddp, nodes=2)
    run = torchrun.run_in_image(image, plan)
    assert run.failure is None, run.failure
    assert run.network.startswith("host network") and run.network_name is None
    host, port = run.endpoint.split(":")
    assert host == "127.0.0.1" and int(port) != torchrun.RENDEZVOUS_PORT
    results = run.results()
    assert sorted(results) == [0, 1] and not ddp_results.all_reduce_errors(results)
    assert not ddp_results.step_disagreements(results)
    assert {r["group_rank"] for r in results.values()} == {0, 1}
    for node in run.nodes:
        container = docker_client.containers.list(all=True, filters={"id": node.container_id})
        assert container == [], f"{node.where} outlived the run"


def _node_network(image):
    identity = image.context.identity
    return node_networks.node_network(image.context.client, identity.labels(image.ref, "ddp-network"),
                                      f"imagecheck-ddp-{identity.run_id}-held")


class RunError(Exception):
    """The error of a run, raised inside the network's with-block."""


@pytest.fixture
def held_network(image, docker_client):
    """node_network() with a container kept on the network, so the engine refuses to remove
    it; the container and the network are removed afterwards."""
    held = {}

    def hold(network):
        held["network"] = network.name
        held["container"] = docker_client.containers.run(
            REFERENCE, ["infinity"], entrypoint=["sleep"], detach=True, network=network.name,
            labels=image.context.identity.labels(REFERENCE, "selftest-network"))

    yield hold
    if "container" in held:
        held["container"].remove(force=True)
    for network in docker_client.networks.list(names=[held.get("network", "-")]):
        network.remove()


def test_a_network_that_cannot_be_removed_never_hides_the_run_error(image, held_network, docker_client):
    with pytest.raises(RunError, match="the run's own error"):
        with _node_network(image) as network:
            held_network(network)
            raise RunError("the run's own error")
    assert docker_client.networks.list(names=[network.name]), "the network was removed although a container held it"


def test_a_network_that_cannot_be_removed_after_a_good_run_is_a_distributed_error(image, held_network):
    with pytest.raises(DistributedError) as caught:
        with _node_network(image) as network:
            held_network(network)
    message = str(caught.value)
    assert f"could not remove the Docker network {network.name} of the two-node run" in message
    assert "the next run's sweep removes it" in message
