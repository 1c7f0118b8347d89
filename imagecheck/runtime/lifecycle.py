"""Run identity, the labels every container and image carries, and cleanup of leftovers.

Each container is labelled with the run id, the pid and the host of the pytest process
that started it. A sweep at session start removes what a crashed run left behind: labelled
containers (and images the suite built) whose owning process on this host is gone. A run
never touches what a live run, here or on another host, still uses.
"""
from __future__ import annotations

import os
import signal
import socket
import uuid
from dataclasses import dataclass, field

import docker
import docker.errors

RUN_LABEL = "imagecheck.run"
PID_LABEL = "imagecheck.pid"
HOST_LABEL = "imagecheck.host"
IMAGE_LABEL = "imagecheck.image"
ROLE_LABEL = "imagecheck.role"


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class RunIdentity:
    """Who owns a container: the run, the process and the host."""

    run_id: str
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)

    def labels(self, image: str, role: str) -> dict[str, str]:
        return {RUN_LABEL: self.run_id, PID_LABEL: str(self.pid), HOST_LABEL: self.host,
                IMAGE_LABEL: image, ROLE_LABEL: role}


def owner_is_gone(labels: dict[str, str], me: RunIdentity) -> bool:
    """Whether the process that labelled a container (or network, image) has ended: only
    for this host; a label without a pid counts as gone; my own pid is never gone."""
    if labels.get(HOST_LABEL) != me.host:
        return False
    try:
        pid = int(labels.get(PID_LABEL, ""))
    except ValueError:
        return True
    return pid != me.pid and not process_is_alive(pid)


def process_is_alive(pid: int | str | None) -> bool:
    """Whether a process of this host with that pid exists (one of another user's counts)."""
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(client: docker.DockerClient, me: RunIdentity) -> list[str]:
    """Remove containers, networks and images of crashed runs on this host; their descriptions."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": RUN_LABEL}):
        if owner_is_gone(container.labels, me):
            try:
                container.remove(force=True, v=True)
                removed.append(f"container {container.name} of run {container.labels.get(RUN_LABEL)}")
            except docker.errors.APIError:  # gone, or another process's sweep is removing it
                pass
    for network in client.networks.list(filters={"label": RUN_LABEL}):
        if owner_is_gone(network.attrs.get("Labels") or {}, me):
            try:
                network.remove()
                removed.append(f"network {network.name} of run {(network.attrs.get('Labels') or {}).get(RUN_LABEL)}")
            except docker.errors.APIError:
                pass
    for image in client.images.list(filters={"label": RUN_LABEL}):
        if owner_is_gone(image.labels, me):
            try:
                client.images.remove(image.id, force=True, noprune=False)
                removed.append(f"image {image.short_id} of run {image.labels.get(RUN_LABEL)}")
            except docker.errors.APIError:
                pass
    return removed


class SigtermAsInterrupt:
    """While installed, SIGTERM raises KeyboardInterrupt, so teardown runs as on Ctrl-C."""

    def __init__(self) -> None:
        self._previous = None

    def install(self) -> None:
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread (an embedding host); nothing to do
            self._previous = None

    def uninstall(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    @staticmethod
    def _handle(signum, frame) -> None:
        raise KeyboardInterrupt(f"signal {signum} (SIGTERM)")


def main() -> int:
    """`python -m imagecheck.runtime.lifecycle`: remove what crashed runs left on this host."""
    from .engine import connect

    removed = sweep_leftovers(connect(), RunIdentity(new_run_id()))
    for line in removed:
        print(f"removed {line}")
    print(f"{len(removed)} leftover(s) of crashed runs removed; containers of live runs were kept")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
