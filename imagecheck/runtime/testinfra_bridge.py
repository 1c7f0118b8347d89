"""pytest-testinfra's modules (user, group, file, socket, process) on a suite container.

testinfra's docker backend (`testinfra.get_host("docker://ID")`) runs `docker exec` with
no time limit. This backend is that backend with every command sent through
Container.exec instead, which is bounded: on expiry the command's process tree is
killed and CommandTimeout says what it printed last.
"""
from __future__ import annotations

from typing import Any

import testinfra.host
from testinfra.backend import base
from testinfra.backend.docker import DockerBackend

from .container import Container


class BoundedDockerBackend(DockerBackend):
    """testinfra's docker backend, with each command bounded by `timeout` seconds."""

    def __init__(self, container: Container, timeout: float, user: str | None = None, **kwargs: Any) -> None:
        spec = f"{user}@{container.id}" if user else container.id
        super().__init__(spec, **kwargs)
        self.container = container
        self.timeout = timeout

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        result = self.container.exec(["/bin/sh", "-c", cmd], timeout=self.timeout, user=self.user)
        return self.result(result.exit_code, self.encode(cmd), result.stdout.encode(), result.stderr.encode())


def host(container: Container, timeout: float, user: str | None = None) -> testinfra.host.Host:
    """A testinfra Host whose commands run in the container, each within timeout seconds."""
    backend = BoundedDockerBackend(container, timeout, user)
    infra_host = testinfra.host.Host(backend)
    backend.set_host(infra_host)
    return infra_host
