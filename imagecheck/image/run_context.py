"""What every image of a session shares: the Docker engine, the run's identity (the labels
its containers carry) and the GPU access chosen for this host. Each is made on first use."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import docker
import docker.errors
import requests.exceptions

from ..errors import EngineLost, ImagecheckError, explain
from ..runtime.gpu import GpuAccess
from ..runtime.lifecycle import RunIdentity
from ..runtime.registry import DEFAULT_PULL_POLICY


@dataclass
class RunContext:
    """What every image of the session shares: the engine, the run identity, GPU access,
    the pull policy, and where progress lines go (say(ref, message))."""

    identity: RunIdentity
    client_factory: Callable[[], docker.DockerClient]
    gpu_factory: Callable[[docker.DockerClient | None], GpuAccess]
    pull_policy: str = DEFAULT_PULL_POLICY
    say: Callable[[str, str], None] = lambda ref, message: None
    _client: docker.DockerClient | None = None
    _gpu: GpuAccess | None = None
    _memory_limit: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = self.client_factory()
            return self._client

    @property
    def gpu(self) -> GpuAccess:
        with self._lock:
            if self._gpu is None:
                if self._client is None:
                    try:
                        self._client = self.client_factory()
                    except ImagecheckError:
                        pass  # no engine: GPU access is decided from the host alone
                self._gpu = self.gpu_factory(self._client)
            return self._gpu

    def default_memory_limit(self) -> int | None:
        """Three quarters of the engine host's memory, in bytes: the memory limit of a
        container whose image sets none (None when the engine does not say)."""
        if self._memory_limit is None:
            try:
                total = (self.client.info() or {}).get("MemTotal")
            except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
                raise EngineLost(explain("the Docker engine did not say how much memory its host has",
                                         observed=f"{type(error).__name__}: {str(error)[:300]}",
                                         hint="check the engine (`docker info`) and run again")) from None
            self._memory_limit = int(total) * 3 // 4 if total else 0
        return self._memory_limit or None
