"""How the nodes of a two-node run reach each other: a labelled user-defined bridge
network made for the run and removed after it, or (on an engine without a bridge) the
host's network, where the nodes are told apart by port."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Iterator

import docker
import docker.errors

from ..errors import DistributedError, explain
from .engine import has_default_bridge


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


def single_node_network(client: docker.DockerClient) -> dict:
    """The network of a one-node run: the engine's default (the bridge, else the host's).
    Not none: torchrun's rendezvous resolves the container's own host name."""
    return {"network_mode": "bridge" if has_default_bridge(client) else "host"}


@contextlib.contextmanager
def node_network(client: docker.DockerClient, labels: dict[str, str], name: str) -> Iterator[NodeNetwork]:
    """A user-defined network `name` with these labels for the nodes of one run, removed
    afterwards; the host network on an engine without a bridge (the nodes then differ by port)."""
    if not has_default_bridge(client):
        yield NodeNetwork("host")
        return
    try:
        network = client.networks.create(name, driver="bridge", labels=labels)
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
