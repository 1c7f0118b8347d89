"""Containers started through the docker SDK: labelled, bounded, always removed.

A Container is a context manager (as in testcontainers): the constructor stores its
arguments, __enter__ creates and starts it, __exit__ removes it whatever happened, and a
start that fails removes what it created. Every live container is also kept in LIVE, so
the plugin can remove stragglers on Ctrl-C, SIGTERM or an internal error.
"""
from __future__ import annotations

import contextlib
import io
import tarfile
import threading
import time
from typing import Any

import docker
import docker.errors
import requests.exceptions

from ..errors import CommandTimeout, ContainerStartError, EngineLost, explain
from .engine import api_message, has_default_bridge, require_image
from .target import BoundedOutput, ExecResult, last_lines, show_command

# Containers this process started and has not removed yet, by id.
LIVE: dict[str, "Container"] = {}
_LIVE_LOCK = threading.Lock()
_ENDING = False  # set by end_of_run(): no container is created after it

_PID_MARKER = "imagecheck-exec-pid="
# Wrap a command so its pid (in the container's namespace) is known and a time-out can
# kill it with all its children.
_PID_WRAPPER = f'echo "{_PID_MARKER}$$" >&2; exec "$@"'
KILL_COMMAND_LIMIT = 15.0  # each of the (at most two) commands that kill a command past its limit
KILL_ALLOWANCE = 2 * KILL_COMMAND_LIMIT + 5  # what a command past its limit may add: the kills, its last output
_KILL_TREE = ('tree() { echo "$1"; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); '
              'do tree "$c"; done; }; p=$(tree "$0"); kill -STOP $p 2>/dev/null; kill -KILL $p 2>/dev/null; true')


class Container:
    """One container of one image, labelled, removed on exit."""

    def __init__(self, client: docker.DockerClient, image: str, *, labels: dict[str, str],
                 command: list[str] | None = None, entrypoint: list[str] | None = None,
                 user: str | None = None, environment: dict[str, str] | None = None,
                 init: bool = False, autostart: bool = True, stay_up: bool = True,
                 **run_options: Any) -> None:
        self.client = client
        self.image = image
        self.labels = labels
        self.command = command
        self.entrypoint = entrypoint
        self.user = user
        self.environment = environment or {}
        self.init = init
        self.autostart = autostart
        self.stay_up = stay_up
        self.run_options = run_options
        self._container = None
        self._has_sh: bool | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> "Container":
        self.create()
        if self.autostart:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()

    def create(self) -> None:
        refuse_unsafe(self.run_options)
        _refuse_when_ending(self.image)
        kwargs: dict[str, Any] = dict(labels=self.labels, detach=True, environment=self.environment,
                                      init=self.init or None, **self.run_options)
        if self.entrypoint is not None:
            kwargs["entrypoint"] = self.entrypoint
        if self.user is not None:
            kwargs["user"] = self.user
        if "network_mode" not in kwargs and "network" not in kwargs and not has_default_bridge(self.client):
            kwargs["network_mode"] = "host"
        try:
            self._container = self.client.containers.create(self.image, self.command, **kwargs)
        except docker.errors.ImageNotFound:
            require_image(self.client, self.image)  # raises the helpful message
            raise
        except docker.errors.APIError as error:
            raise ContainerStartError(explain(
                f"could not create a container of {self.image}", observed=api_message(error),
                hint="check the run options in images.yaml and the GPU access mode")) from None
        with _LIVE_LOCK:
            ending = _ENDING
            if not ending:
                LIVE[self._container.id] = self
        if ending:  # created while the run ended (work in the background): it goes at once
            made, self._container = self._container, None
            with contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException):
                made.remove(force=True, v=True)
            _refuse_when_ending(self.image)

    def start(self) -> None:
        """Start the created container; if it fails or exits at once, remove it and say why."""
        try:
            self._container.start()
            if self.stay_up:
                time.sleep(0.05)
                self._container.reload()
                if self._container.status != "running":
                    state = self._container.attrs["State"]
                    raise ContainerStartError(explain(
                        f"a container of {self.image} exited right after it started",
                        expected="it stays up while the checks run",
                        observed=f"exit code {state.get('ExitCode')}; {state.get('Error') or 'log:'}\n"
                                 f"{self.logs(20)}",
                        where=self.name,
                        hint="the suite keeps probe containers up with `sleep infinity`; the image needs coreutils"))
        except docker.errors.APIError as error:
            message = api_message(error)
            self.remove()
            raise ContainerStartError(explain(
                f"could not start a container of {self.image}", observed=message,
                hint=_start_hint(message))) from None
        except ContainerStartError:
            self.remove()
            raise
        except requests.exceptions.RequestException as error:  # the engine stopped answering
            with contextlib.suppress(docker.errors.DockerException, EngineLost):
                self.remove()  # when it cannot go now, it stays in LIVE and the run's end tries again
            raise EngineLost(explain(f"the Docker engine stopped answering while a container of {self.image} "
                                     "started", observed=f"{type(error).__name__}: {str(error)[:300]}",
                                     where=self.name, hint="check the engine (`docker info`) and run again")) \
                from None

    def remove(self) -> None:
        """Remove the container and its anonymous volumes; quiet if already gone."""
        container = self._container
        if container is None:
            return
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            if "already in progress" not in str(error):
                raise  # still held in LIVE, so remove_all_live tries again
        except (requests.exceptions.RequestException, OSError) as error:
            raise EngineLost(explain(
                f"could not remove {self.name} of {self.image}: the Docker engine did not answer",
                observed=f"{type(error).__name__}: {str(error)[:300]}",
                hint="it is labelled with this run: the next run's sweep (or `make clean`) removes it")) from None
        self._container = None
        with _LIVE_LOCK:
            LIVE.pop(container.id, None)

    # ---- facts about it --------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._container.id if self._container else ""

    @property
    def name(self) -> str:
        return f"container {self._container.name} ({self._container.short_id})" if self._container else "container"

    def reload(self) -> dict:
        self._container.reload()
        return self._container.attrs

    def logs(self, tail: int = 200, stdout: bool = True, stderr: bool = True) -> str:
        if self._container is None:
            return ""
        try:
            return self._container.logs(tail=tail, stdout=stdout, stderr=stderr).decode(errors="replace")
        except docker.errors.APIError:
            return "(logs unavailable: the container is gone)"
        except (requests.exceptions.RequestException, OSError):
            return "(logs unavailable: the Docker engine did not answer)"

    def wait(self, timeout: float) -> int:
        """Wait for the container to exit; its exit code. CommandTimeout with its log if it does not."""
        try:
            return self._container.wait(timeout=timeout)["StatusCode"]
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            raise CommandTimeout(explain(
                f"a container of {self.image} ran past its {timeout:.0f} s limit",
                observed=f"last log lines:\n{self.logs(15)}", where=self.name)) from None

    def commit(self, repository: str, tag: str, conf: dict) -> docker.models.images.Image:
        """Commit the container's filesystem as an image; conf overrides its configuration."""
        return self._container.commit(repository=repository, tag=tag, conf=conf)

    # ---- files and commands ------------------------------------------------------------
    def put_files(self, destination: str, files: dict[str, bytes], mode: int = 0o644) -> None:
        """Copy files into destination/ via put_archive. The engine creates missing folders
        (0755, readable by every user); existing ones, /opt say, keep their owner and mode."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            folder = destination.strip("/")
            for name, data in files.items():
                info = tarfile.TarInfo(f"{folder}/{name}")
                info.size, info.mode, info.mtime = len(data), mode, int(time.time())
                tar.addfile(info, io.BytesIO(data))
        try:
            self._container.put_archive("/", buffer.getvalue())
        except docker.errors.APIError as error:
            raise ContainerStartError(explain(
                f"could not copy {len(files)} file(s) into {destination} of a container of {self.image}",
                observed=api_message(error), where=self.name,
                hint="the container may have stopped, or its filesystem is read-only")) from None

    def has_shell(self) -> bool:
        if self._has_sh is None:
            probe = self._raw_exec(["/bin/sh", "-c", "exit 0"], timeout=30, user=None, environment=None, workdir=None)
            self._has_sh = probe.exit_code == 0
        return self._has_sh

    def exec(self, command: list[str], *, timeout: float, user: str | None = None,
             environment: dict[str, str] | None = None, workdir: str | None = None) -> ExecResult:
        """Run a command in the container, bounded by timeout seconds.

        On expiry CommandTimeout says what the command printed last, at most KILL_ALLOWANCE
        seconds later; the command and its children are killed first when the image has
        /bin/sh (without one they run on until the container is removed).
        """
        wrapped = ["/bin/sh", "-c", _PID_WRAPPER, "sh", *command] if self.has_shell() else command
        return self._raw_exec(wrapped, timeout=timeout, user=user, environment=environment,
                              workdir=workdir, shown=command)

    def _raw_exec(self, command: list[str], *, timeout: float, user: str | None,
                  environment: dict[str, str] | None, workdir: str | None,
                  shown: list[str] | None = None) -> ExecResult:
        shown = shown or command
        api = self.client.api
        started = time.monotonic()
        try:
            exec_id = api.exec_create(self.id, command, stdout=True, stderr=True, user=user or "",
                                      environment=environment, workdir=workdir)["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=True)
        except docker.errors.APIError as error:
            raise ContainerStartError(explain(
                f"could not run `{show_command(shown)}` in {self.image}", observed=api_message(error),
                where=self.name, hint="the container may have stopped; see its log above")) from None
        out, err = BoundedOutput(), BoundedOutput()

        def pump() -> None:
            try:
                for chunk_out, chunk_err in stream:
                    if chunk_out:
                        out.add(chunk_out)
                    if chunk_err:
                        err.add(chunk_err)
            except (requests.exceptions.RequestException, OSError, ValueError):
                pass

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            pid = _marked_pid(err.text())
            if pid is not None:  # as root; a container under no-new-privileges gives root no power over
                for killer in dict.fromkeys(("0", user or "")):  # another user's processes: then as its own
                    try:
                        self._raw_exec(["/bin/sh", "-c", _KILL_TREE, str(pid)], timeout=KILL_COMMAND_LIMIT,
                                       user=killer, environment=None, workdir=None)
                    except (CommandTimeout, ContainerStartError):
                        pass  # the timeout of the command itself is what the caller hears
            reader.join(5)
            raise CommandTimeout(explain(
                f"`{show_command(shown)}` in {self.image} ran past its {timeout:.0f} s limit and was killed",
                observed="last lines it printed:\n" + last_lines(
                    (_strip_marker(err.bytes()) + b"\n" + out.bytes()).decode(errors="replace")),
                where=self.name,
                hint="raise the limit in images.yaml (timeouts) if the image is just slow"))
        try:
            exit_code = api.exec_inspect(exec_id).get("ExitCode")
        except (docker.errors.APIError, requests.exceptions.RequestException) as error:
            raise ContainerStartError(explain(
                f"`{show_command(shown)}` in {self.image} lost its container or the engine while it ran",
                observed=f"{type(error).__name__}: {str(error)[:300]}", where=self.name,
                hint="the container was removed or killed from outside, or the Docker engine stopped")) from None
        return ExecResult(list(shown), -1 if exit_code is None else exit_code, out.text(),
                          _strip_marker(err.bytes()).decode(errors="replace"), time.monotonic() - started)


DOCKER_SOCKETS = ("docker.sock", "containerd.sock")


def refuse_unsafe(options: dict[str, Any]) -> None:
    """The suite never runs an image it judges privileged, with added capabilities, or with
    the engine's socket inside (each would hand an unvetted image the host)."""
    if options.get("privileged") or options.get("cap_add"):
        raise ValueError("the suite never runs a container privileged or with added capabilities")  # a defect
    volumes = options.get("volumes") or {}
    sources = list(volumes) + [str(m.get("Source", "")) for m in options.get("mounts") or []] \
        + [str(v).split(":")[0] for v in (volumes if isinstance(volumes, list) else [])]
    if any(name in str(source) for source in sources for name in DOCKER_SOCKETS):
        raise ValueError("the suite never mounts the Docker engine's socket into a container")  # a defect


def end_of_run() -> int:
    """The run is ending (its end, Ctrl-C, SIGTERM): refuse every new container from now on
    (work still going on in the background may ask for one), then remove every container
    this process holds; how many there were."""
    global _ENDING
    with _LIVE_LOCK:
        _ENDING = True
    return remove_all_live()


def _refuse_when_ending(image: str) -> None:
    if _ENDING:
        raise ContainerStartError(explain(f"no new container of {image}: the run is ending",
                                          hint="it was interrupted, or its checks ended while work in the "
                                               "background still went on"))


def remove_all_live() -> int:
    """Remove every container this process still holds; how many there were."""
    with _LIVE_LOCK:
        holding = list(LIVE.values())
    for container in holding:
        try:
            container.remove()
        except Exception:  # noqa: BLE001 - best effort during shutdown; never mask the first error
            pass
    return len(holding)


def _marked_pid(stderr: str) -> int | None:
    for line in stderr.splitlines():
        if line.startswith(_PID_MARKER):
            return int(line[len(_PID_MARKER):])
    return None


def _strip_marker(data: bytes) -> bytes:
    lines = data.split(b"\n")
    return b"\n".join(line for line in lines if not line.startswith(_PID_MARKER.encode()))


def _start_hint(message: str) -> str:
    if "nvidia" in message.lower() or "device" in message.lower():
        return "the GPU access mode does not fit this host; try --gpu-mode devices or --gpu-mode none"
    if "executable file not found" in message:
        return "the command or entrypoint is missing from the image"
    return "see the engine's message above"
