"""The Docker engine: reaching it, and what the suite asks of it before any container.

- connect(): a client for the engine the environment names (DOCKER_HOST or the local socket);
- require_image(): an image already on the engine (ImageNotFound with a hint otherwise);
- has_default_bridge(): whether the engine has its 'bridge' network (cached on the client);
- engine_is_local(): whether the engine runs on this machine (host folders can be mounted).
"""
from __future__ import annotations

import os

import docker
import docker.errors
import requests.exceptions

from ..errors import DockerUnavailable, ImageNotFound, explain

_BRIDGE_ATTRIBUTE = "_imagecheck_has_bridge"


def connect(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine named by the environment (DOCKER_HOST or the local socket)."""
    where = os.environ.get("DOCKER_HOST", "the local socket (unix:///var/run/docker.sock)")
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as error:
        raise DockerUnavailable(explain(
            "cannot reach the Docker engine", where=where, observed=str(error).strip()[:300],
            hint="start it (`sudo dockerd &` or `sudo systemctl start docker`) or point DOCKER_HOST at one")) from None
    return client


def require_image(client: docker.DockerClient, ref: str) -> docker.models.images.Image:
    """The image, on the engine now (a container is about to be made of it)."""
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound:
        raise ImageNotFound(explain(
            f"image {ref} is not present on this Docker engine",
            expected="the image on the engine for the whole run (the run found it, or pulled it, at its start)",
            hint="it was removed while the run went on (docker rmi, a cleanup job); run again once it is back: "
                 "`make fixtures` builds the project's own images, --pull missing pulls others")) from None


def has_default_bridge(client: docker.DockerClient) -> bool:
    """Whether the engine has its default 'bridge' network. An engine started with
    `dockerd --bridge=none` (GPU hosts without iptables) has none, and a container that
    names no network must then use the host's (`--network host`). Asked once per client."""
    known = getattr(client, _BRIDGE_ATTRIBUTE, None)
    if known is None:
        try:
            known = any(n.name == "bridge" for n in client.networks.list(names=["bridge"]))
        except docker.errors.APIError:
            known = True  # let docker say what is wrong
        setattr(client, _BRIDGE_ATTRIBUTE, known)
    return known


def engine_is_local() -> bool:
    """Whether the Docker engine runs on this machine: DOCKER_HOST unset, empty (the docker
    SDK then uses the local socket) or a unix socket; not a remote engine."""
    host = os.environ.get("DOCKER_HOST", "")
    return host == "" or host.startswith("unix://")


def api_message(error: docker.errors.APIError) -> str:
    """The engine's own words for an API error."""
    return str(getattr(error, "explanation", None) or error).strip()
