"""Getting the image onto the engine: the pull policy (--pull never|missing|always), a pull
through the docker SDK with progress lines and the credentials of the docker CLI's
configuration (~/.docker/config.json, or DOCKER_CONFIG), and what to say when it fails.

The registry's answers are told apart (explain_pull_failure): an unknown repository, a
tag or digest it does not hold (with the tags it does hold, asked of its v2 API when it
answers without credentials), a registry that is down, and one that refuses the
credentials. Each message says expected, observed, where and a hint.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Callable

import docker
import docker.errors
import requests.exceptions

from ..errors import ImageNotFound, ImagecheckError, explain
from ..rules.image_reference import DEFAULT_REGISTRY, ImageReference
from .engine import api_message

PULL_POLICIES = ("never", "missing", "always")
DEFAULT_PULL_POLICY = "missing"   # as `docker run`: pull what the engine lacks, never replace what it holds
PROGRESS_SECONDS = 10.0
TAGS_TIMEOUT = 5.0
Say = Callable[[str], None]


class PullError(ImagecheckError):
    """The image could not be pulled (the message says which kind of failure, and a hint)."""


def ensure(client: docker.DockerClient, reference: ImageReference, policy: str,
           say: Say | None = None) -> docker.models.images.Image:
    """The image on the engine, pulled first as the policy says; ImageNotFound (never) or
    PullError (missing, always) when it cannot be had."""
    say = say or (lambda message: None)
    if policy != "always":
        try:
            return client.images.get(reference.text)
        except docker.errors.ImageNotFound:
            if policy == "never":
                raise ImageNotFound(explain(
                    f"image {reference.text} is not present on this Docker engine",
                    expected="a local image (--pull never: the suite does not pull)",
                    hint="`make fixtures` builds the project's own images; load others with `docker load -i "
                         "FILE`, build them first, or let the suite pull them (--pull missing)")) from None
    pull(client, reference, say)
    try:
        return client.images.get(reference.text)
    except docker.errors.ImageNotFound:
        raise PullError(explain(f"{reference.text} was pulled but the engine does not list it",
                                hint="pull it by hand (`docker pull`) to see what the engine says")) from None


def pull(client: docker.DockerClient, reference: ImageReference, say: Say) -> None:
    """Pull through the engine, saying what it does every PROGRESS_SECONDS."""
    repository = reference.repository
    say(f"pulling {reference.text} ({reference.describe()})")
    started = last = time.monotonic()
    layers: dict[str, str] = {}
    try:
        for event in client.api.pull(repository, tag=reference.pull_tag, stream=True, decode=True):
            if "error" in event:
                raise PullError(explain_pull_failure(reference, str(event.get("error")), tags_of(reference)))
            if event.get("id") and event.get("status"):
                layers[event["id"]] = event["status"]
            if time.monotonic() - last >= PROGRESS_SECONDS:
                last = time.monotonic()
                done = sum(1 for status in layers.values() if status in ("Pull complete", "Already exists"))
                say(f"pulling {reference.text}: {done} of {len(layers)} layers done after {last - started:.0f} s")
    except docker.errors.APIError as error:
        raise PullError(explain_pull_failure(reference, api_message(error), tags_of(reference))) from None
    except (requests.exceptions.RequestException, OSError) as error:
        raise PullError(explain(f"the Docker engine stopped answering while it pulled {reference.text}",
                                observed=f"{type(error).__name__}: {error}", where=reference.describe(),
                                hint="check the engine (`docker info`) and pull again")) from None
    say(f"pulled {reference.text} in {time.monotonic() - started:.0f} s")


def explain_pull_failure(reference: ImageReference, engine_says: str, tags: list[str] | None) -> str:
    """What a failed pull means, from the engine's message (and the tags the registry holds,
    when known): unknown repository, missing tag or digest, registry down, credentials refused."""
    said = engine_says.strip()
    lower = said.lower()
    where = f"{reference.describe()}"
    registry = reference.registry or DEFAULT_REGISTRY
    if any(sign in lower for sign in ("unauthorized", "authentication required", "no basic auth credentials",
                                      "denied", "incorrect username or password", "forbidden")):
        return explain(f"the registry {registry} refused to let this engine pull {reference.text}",
                       expected="credentials that may pull the repository", observed=said, where=where,
                       hint=f"`docker login {registry}` as a user who may pull it (the suite uses the docker CLI's "
                            "credentials: ~/.docker/config.json or DOCKER_CONFIG), or check the repository name")
    if any(sign in lower for sign in ("connection refused", "no such host", "i/o timeout", "dial tcp",
                                      "tls handshake timeout", "server misbehaving", "network is unreachable",
                                      "no route to host", "eof")):
        return explain(f"the registry {registry} did not answer the pull of {reference.text}",
                       expected=f"the registry's v2 API at {registry}", observed=said, where=where,
                       hint="start the registry or check the address and port; a registry on another host must "
                            "be reachable from the Docker engine (not only from this shell)")
    if "manifest unknown" in lower or "not found" in lower or "name unknown" in lower:
        what = f"digest {reference.digest}" if reference.digest else f"tag {reference.tag or 'latest'}"
        if tags is None:
            return explain(f"the registry {registry} holds no {reference.path} with {what}",
                           expected=f"{reference.text} in the registry", observed=said, where=where,
                           hint="the repository or the tag does not exist (or was deleted): check the name, "
                                "and push the image first")
        if not tags:
            return explain(f"the registry {registry} has no repository {reference.path}",
                           expected=f"{reference.text} in the registry", observed=f"{said}; the repository is unknown",
                           where=where, hint="check the repository's name, or push the image first")
        shown = ", ".join(sorted(tags)[:12]) + (f" and {len(tags) - 12} more" if len(tags) > 12 else "")
        return explain(f"the repository {reference.path} on {registry} has no {what}",
                       expected=f"{reference.text} in the registry", observed=f"{said}; its tags: {shown}",
                       where=where, hint="use one of its tags, or push this one first")
    return explain(f"could not pull {reference.text}", observed=said, where=where,
                   hint="pull it by hand (`docker pull`) to see what the engine says")


def tags_of(reference: ImageReference) -> list[str] | None:
    """The tags the registry holds for the repository ([] when it does not know it), asked of
    its v2 API without credentials; None when that cannot be told (Docker Hub, a registry
    that wants credentials, or one that does not answer)."""
    if reference.registry is None:
        return None
    for scheme in ("https", "http"):
        url = f"{scheme}://{reference.registry}/v2/{reference.path}/tags/list"
        try:
            with urllib.request.urlopen(url, timeout=TAGS_TIMEOUT) as answer:
                return list(json.loads(answer.read().decode() or "{}").get("tags") or [])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                body = error.read().decode(errors="replace")
                return [] if "NAME_UNKNOWN" in body else None
            return None
        except (urllib.error.URLError, OSError, ValueError):
            continue
    return None
