"""One image in one test session: its expectations, its shared container, its facts.

The first check that needs a container starts ONE container for the image (labelled,
idle under `sleep infinity`, GPU access per policy, the image's documented run options)
and every probe of every check reuses it. Read-only facts come from one `facts` probe,
run once and cached, so torch is imported once per image for all of them; probes that
gather other read-only facts (the root filesystem scan) register as fact companions and
run beside it, in parallel, each once (cached_probe). Checks that
must start the image otherwise (its own CMD, another user, two nodes) ask for more
containers through new_container(), which labels them the same way.
"""
from __future__ import annotations

import contextlib
import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import docker
import docker.errors

from . import probes
from .config import ImageSpec
from .errors import ImagecheckError
from .runtime.docker import Container, require_image
from .runtime.gpu import GpuAccess
from .runtime.lifecycle import RunIdentity

IDLE_ENTRYPOINT = ["sleep"]
IDLE_COMMAND = ["infinity"]

# Probes of other read-only facts that start beside the facts probe, so both run at once,
# by the marker that the checks needing them carry (each caches its run with
# ImageUnderTest.cached_probe). The plugin tells each image which of them its selected
# checks need (ImageUnderTest.companions).
FACT_COMPANIONS: dict[str, Callable[["ImageUnderTest"], object]] = {}


def register_fact_companion(marker: str, start: Callable[["ImageUnderTest"], object]) -> None:
    """Run start(image) beside the facts probe when a selected check carries `marker`."""
    FACT_COMPANIONS[marker] = start


@dataclass
class RunContext:
    """What every image of the session shares: the engine, the run identity, GPU access."""

    identity: RunIdentity
    client_factory: Callable[[], docker.DockerClient]
    gpu_factory: Callable[[docker.DockerClient | None], GpuAccess]
    _client: docker.DockerClient | None = None
    _gpu: GpuAccess | None = None
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


class ImageUnderTest:
    """An image and what it promises, with the containers and facts of this session."""

    def __init__(self, ref: str, spec: ImageSpec, context: RunContext) -> None:
        self.ref = ref
        self.spec = spec
        self.context = context
        self.companions: set[str] = set()  # markers of the fact companions its checks need
        self.containers_started = 0
        self.torch_imports = 0
        self._shared: Container | None = None
        self._start_error: ImagecheckError | None = None
        self._start_lock = threading.Lock()
        self._runs: dict[str, Future] = {}
        self._runs_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._image = None
        self._live: list[Container] = []

    def __repr__(self) -> str:
        return f"ImageUnderTest({self.ref!r})"

    # ---- the image -------------------------------------------------------------------
    @property
    def docker_image(self):
        """The image object on the engine (ImageNotFound with a hint if absent)."""
        if self._image is None:
            self._image = require_image(self.context.client, self.ref)
        return self._image

    @property
    def config(self) -> dict:
        """The image's configuration (User, Env, Cmd, Entrypoint, ExposedPorts, Labels...)."""
        return self.docker_image.attrs.get("Config") or {}

    @property
    def gpu(self) -> GpuAccess:
        return self.context.gpu

    @property
    def no_gpu(self) -> GpuAccess:
        """GPU access for containers that need none: the same mode, no GPU granted."""
        return self.gpu.subset(())

    def run_options(self) -> dict[str, Any]:
        """The image's documented run options as docker SDK keyword arguments."""
        options: dict[str, Any] = {}
        if self.spec.run_options.shm_size:
            options["shm_size"] = self.spec.run_options.shm_size
        if self.spec.run_options.ipc:
            options["ipc_mode"] = self.spec.run_options.ipc
        return options

    # ---- containers --------------------------------------------------------------------
    def new_container(self, role: str, *, gpu: GpuAccess | None = None, documented_options: bool = True,
                      environment: dict[str, str] | None = None, **kwargs: Any) -> Container:
        """A labelled Container of this image (not started: use it in a with-block)."""
        self.docker_image  # fail early, with the hint, when the image is absent
        access = self.gpu if gpu is None else gpu
        gpu_kwargs = access.container_kwargs(self.config.get("Env"))
        env = {**gpu_kwargs.pop("environment", {}), **(environment or {})}
        options = {**(self.run_options() if documented_options else {}), **gpu_kwargs, **kwargs}
        container = _CountingContainer(self, self.context.client, self.ref,
                                       labels=self.context.identity.labels(self.ref, role),
                                       environment=env, **options)
        return container

    def idle_container(self, role: str, **kwargs: Any) -> Container:
        """A labelled container of this image kept up by `sleep infinity` under an init, for
        probes (not started: use it in a with-block, or probe_container())."""
        return self.new_container(role, entrypoint=IDLE_ENTRYPOINT, command=IDLE_COMMAND, init=True, **kwargs)

    @contextlib.contextmanager
    def probe_container(self, role: str, **kwargs: Any) -> Iterator[Container]:
        """An extra idle container with the probes installed (for a check that needs other
        run options than the shared one: a GPU subset, Docker's default /dev/shm);
        removed on exit."""
        with self.idle_container(role, **kwargs) as container:
            probes.install(container)
            yield container

    def shared_container(self) -> Container:
        """The container every probe of this image shares; started on first use."""
        with self._start_lock:
            if self._start_error is not None:
                raise type(self._start_error)(f"{self._start_error}\n  (the first start of this image's "
                                              "container failed; later checks report the same)")
            if self._shared is None:
                container = self.idle_container("probe")
                try:
                    container.__enter__()
                    probes.install(container)
                except ImagecheckError as error:
                    container.remove()
                    self._start_error = error
                    raise
                except BaseException:
                    container.remove()
                    raise
                self._shared = container
            return self._shared

    # ---- probes --------------------------------------------------------------------------
    def probe(self, name: str, *args: str, timeout: float | None = None, user: str | None = None,
              environment: dict[str, str] | None = None) -> probes.ProbeResult:
        """Run a probe in the shared container."""
        result = probes.run(self.shared_container(), name, args, timeout=timeout or self.spec.timeouts.probe,
                            user=user, environment=environment)
        with self._runs_lock:
            self.torch_imports += int(result.data.get("torch_imports", 0) or 0)
        return result

    def cached_probe(self, key: str, name: str, *args: str, user: str | None = None,
                     timeout: float | None = None) -> Future:
        """A probe run once per session under key, in the background; .result() waits for its
        ProbeResult (or raises its error, the same for every caller)."""
        with self._runs_lock:
            run = self._runs.get(key)
            if run is None:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="imagecheck-probe")
                run = self._pool.submit(self.probe, name, *args, user=user, timeout=timeout)
                self._runs[key] = run
            return run

    @property
    def facts_gathered(self) -> bool:
        """Whether facts() already ran (a later call costs nothing)."""
        run = self._runs.get("facts")
        return run is not None and run.done() and not run.cancelled() and run.exception() is None

    def facts(self) -> dict:
        """Every read-only fact, from one `facts` probe run, cached for the session; the fact
        companions this image's checks need start beside it."""
        first = "facts" not in self._runs
        run = self.cached_probe("facts", "facts", json.dumps({"extra_modules": list(self.spec.extra_modules)}))
        if first:
            for marker in sorted(self.companions & FACT_COMPANIONS.keys()):
                FACT_COMPANIONS[marker](self)
        return run.result().data

    def logs(self, tail: int = 60) -> str:
        """The last log lines of every container of this image still running."""
        parts = []
        for container in list(self._live):
            if container.id:
                text = container.logs(tail).strip()
                if text:
                    parts.append(f"--- {container.name} ---\n{text}")
        return "\n".join(parts)

    def close(self) -> None:
        """Remove every container of this image this session started (all of them, even when
        one removal fails; the first error is raised after). Probe runs not finished are
        dropped, so a later probe starts afresh."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        with self._runs_lock:
            self._runs = {key: run for key, run in self._runs.items() if run.done() and not run.cancelled()}
        self._shared = None
        errors = []
        for container in list(self._live):
            try:
                container.remove()
            except docker.errors.APIError as error:
                errors.append(error)
        if errors:
            raise errors[0]


class _CountingContainer(Container):
    """A Container that tells its image when it starts, for the container count."""

    def __init__(self, owner: ImageUnderTest, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def create(self) -> None:
        super().create()
        self._owner.containers_started += 1
        self._owner._live.append(self)

    def remove(self) -> None:
        super().remove()
        if self in self._owner._live:
            self._owner._live.remove(self)
