"""One image in one test session: its expectations, its shared container, its facts.

The first check that needs a container starts ONE container for the image (labelled,
idle under `sleep infinity`, GPU access per policy, the image's documented run options)
and every probe of every check reuses it. Read-only facts come from one `facts` probe,
run once, so torch is imported once per image for all of them; the probes of other
read-only facts its checks need (image/companions.py) run beside it, each once. Checks
that must start the image otherwise (its own CMD, another user, two nodes) ask for more
containers through new_container(), which labels them the same way.

Whatever an image's checks share is made once and kept with its first failure in one
memo (image.shared(key, make), image/memo.py); close() removes the containers and
forgets it all.
"""
from __future__ import annotations

import contextlib
import json
import threading
from typing import Any, Callable, Hashable, Iterator, TypeVar

import docker.errors

from ..config import ImageSpec
from ..errors import ImagecheckError
from ..rules import image_reference
from ..rules.image_reference import ImageReference
from ..runtime import registry
from ..runtime.container import Container
from ..runtime.gpu import GpuAccess
from . import companions, probes
from .facts import Facts
from .memo import OncePerImage
from .run_context import RunContext

IDLE_ENTRYPOINT = ["sleep"]
IDLE_COMMAND = ["infinity"]
T = TypeVar("T")


class ImageUnderTest:
    """An image and what it promises, with the containers and facts of this session."""

    def __init__(self, ref: str, spec: ImageSpec, context: RunContext) -> None:
        self.ref = ref
        self.spec = spec
        self.context = context
        self.companions: set[str] = set()  # markers of the fact companions its checks need
        self.reads_facts = False  # whether a selected check reads the facts (begin() starts their probe)
        self.containers_started = 0
        self.torch_imports = 0
        self.memo = OncePerImage(ref)
        self.resolved = OncePerImage(ref)  # the image itself: resolved (pulled) once, kept past close()
        self._counts_lock = threading.Lock()
        self._live: list[Container] = []
        self._on_close: list[Callable[[], None]] = []
        self.generation = 0  # how many times close() ran: work begun before it is undone on arrival

    def __repr__(self) -> str:
        return f"ImageUnderTest({self.ref!r})"

    def on_close(self, undo: Callable[[], None], begun: int | None = None) -> None:
        """Run undo() when the image's checks end (an image the suite made of it, say); at
        once when work begun in generation `begun` finishes after close() ran."""
        if begun is not None and begun != self.generation:
            undo()
            return
        self._on_close.append(undo)

    def quiet(self) -> None:
        """Wait for the work started beside the facts probe (image/companions.py), so that a
        figure measured next is the image's alone."""
        companions.quiet(self)

    def shared(self, key: Hashable, make: Callable[[], T], **kwargs: Any) -> T:
        """make()'s value, made once for this image; a failure is kept and repeated
        (OncePerImage.get)."""
        return self.memo.get(key, make, **kwargs)

    # ---- the image -------------------------------------------------------------------
    @property
    def reference(self) -> ImageReference:
        """The reference parsed (the plugin refuses one the grammar refuses before any check)."""
        return image_reference.parse(self.ref)

    @property
    def docker_image(self):
        """The image object on the engine, pulled first as the run's pull policy says (once
        per image and process: ImageNotFound or PullError with a hint, kept for every check)."""
        return self.resolved.get("docker-image", lambda: registry.ensure(
            self.context.client, self.reference, self.context.pull_policy,
            lambda message: self.context.say(self.ref, message)))

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
        options = {**self.bounds(), **(self.run_options() if documented_options else {}), **gpu_kwargs, **kwargs}
        container = _CountingContainer(self, self.context.client, self.ref,
                                       labels=self.context.identity.labels(self.ref, role),
                                       environment=env, **options)
        return container

    def bounds(self) -> dict[str, Any]:
        """What every container of the image is held to (images.yaml limits): its tasks, its
        memory (default: three quarters of the engine host's), no privileges gained."""
        limits = self.spec.limits
        bounds: dict[str, Any] = {"pids_limit": limits.pids,
                                  "mem_limit": limits.memory or self.context.default_memory_limit()}
        if limits.no_new_privileges:
            bounds["security_opt"] = ["no-new-privileges:true"]
        return {key: value for key, value in bounds.items() if value is not None}

    def idle_container(self, role: str, **kwargs: Any) -> Container:
        """A labelled container of this image kept up by `sleep infinity` under an init, for
        probes (not started: use it in a with-block, or probe_container()). It has no
        network but its own loopback unless kwargs give it one (probes need none), and the
        pids and memory limits; no-new-privileges binds the containers that run the image's
        own entrypoint (services, entrypoint runs)."""
        if "network" not in kwargs:
            kwargs.setdefault("network_mode", "none")
        # The suite's own work in it runs as root (the filesystem walk, cleaning a mount, killing
        # a command past its limit); under no-new-privileges such a root exec in a container of
        # a non-root image has no capabilities. The image's own entrypoint and CMD never run here.
        kwargs.setdefault("security_opt", None)
        return self.new_container(role, entrypoint=IDLE_ENTRYPOINT, command=IDLE_COMMAND, init=True, **kwargs)

    @contextlib.contextmanager
    def probe_container(self, role: str, **kwargs: Any) -> Iterator[Container]:
        """An extra idle container with the probes installed (for a check that needs other
        run options than the shared one: a GPU subset, Docker's default /dev/shm);
        removed on exit."""
        self.require_python()
        with self.idle_container(role, **kwargs) as container:
            probes.install(container)
            yield container

    def shared_container(self) -> Container:
        """The container every probe of this image shares; started on first use (a failed
        start is kept: later checks report it at once)."""
        return self.shared("probe-container", self._start_shared_container)

    def _start_shared_container(self) -> Container:
        container = self.idle_container("probe")
        try:
            container.__enter__()
            probes.install(container)
        except BaseException:
            container.remove()
            raise
        return container

    # ---- probes --------------------------------------------------------------------------
    def require_python(self) -> None:
        """The image's python3 starts and exits within timeouts.start, tried once per image in
        the shared container: an interpreter that cannot start or hangs at start (a .pth file
        that blocks) costs one timeouts.start, and every check that needs python fails at once
        with that cause (PythonWontStart, or NoPython when there is none)."""
        self.shared("python-starts", lambda: probes.python_starts(self.shared_container(), self.spec.timeouts.start))

    def probe(self, name: str, *args: str, timeout: float | None = None, user: str | None = None,
              environment: dict[str, str] | None = None) -> probes.ProbeResult:
        """Run a probe in the shared container (once its python is known to start)."""
        self.require_python()
        result = probes.run(self.shared_container(), name, args, timeout=timeout or self.spec.timeouts.probe,
                            user=user, environment=environment)
        with self._counts_lock:
            self.torch_imports += int(result.data.get("torch_imports", 0) or 0)
        return result

    def start_probe(self, key: str, name: str, *args: str, user: str | None = None,
                    timeout: float | None = None) -> None:
        """Start a probe once for this image, in the background (probe_result waits for it)."""
        self.memo.start(("probe", key), lambda: self.probe(name, *args, user=user, timeout=timeout))

    def probe_result(self, key: str, name: str | None = None, *args: str, user: str | None = None,
                     timeout: float | None = None) -> probes.ProbeResult:
        """The ProbeResult of the probe started under key (started now if it was not: then
        name and args say which); its kept failure when it failed."""
        if name is not None:
            self.start_probe(key, name, *args, user=user, timeout=timeout)
        return self.memo.result(("probe", key))

    def begin(self) -> None:
        """As the image's first check begins: start, in the background, the facts probe (when
        a selected check reads the facts) and every companion its selected checks need, so
        all of it runs at once whichever check comes first."""
        if self.reads_facts:
            self._start_facts()
        companions.start(self, self.companions)

    def facts(self) -> Facts:
        """Every read-only fact, from one `facts` probe run per image (begun by begin() when a
        selected check reads the facts, else now)."""
        self._start_facts()
        return Facts(self.probe_result("facts").data)

    def _start_facts(self) -> None:
        self.start_probe("facts", "facts", json.dumps({"extra_modules": list(self.spec.extra_modules)}))

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
        one removal fails; the first error is raised after) and forget what the memo holds.
        What background work begun before makes after this is undone as it registers (on_close)."""
        self.generation += 1
        self.memo.clear()
        errors = []
        while self._on_close:
            try:
                self._on_close.pop()()
            except Exception as error:  # noqa: BLE001 - the containers go all the same; the first error is raised
                errors.append(error)
        for container in list(self._live):
            try:
                container.remove()
            except (docker.errors.APIError, ImagecheckError) as error:
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
